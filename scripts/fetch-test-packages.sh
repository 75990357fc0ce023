#!/usr/bin/env bash
# Download the pinned sdists that the validation example recipes fetch by purl
# (scripts/test-packages.txt) into .cache/test-packages/, with pip and --require-hashes.
# The tests serve that folder as a PEP 503 index on 127.0.0.1; they never reach the internet.
# Idempotent: a file already there with the pinned sha256 is not downloaded again.
set -euo pipefail
cd "$(dirname "$0")/.."

dest=.cache/test-packages
python=${PYTHON:-}
if [ -z "$python" ]; then
  if [ -x .venv/bin/python ]; then python=.venv/bin/python; else python=python3; fi
fi
mkdir -p "$dest"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

have() {  # is a file with this sha256 in $dest?
  local f
  for f in "$dest"/*; do
    [ -f "$f" ] || continue
    [ "$(sha256sum "$f" | cut -d' ' -f1)" = "$1" ] && return 0
  done
  return 1
}

fetched=0
while read -r requirement sha; do
  case "$requirement" in ''|'#'*) continue ;; esac
  if have "$sha"; then continue; fi
  # One requirement at a time: pip refuses two versions of one project in one run.
  printf '%s --hash=sha256:%s\n' "$requirement" "$sha" > "$work/req.txt"
  rm -rf "$work/out"
  "$python" -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
    --require-hashes -r "$work/req.txt" -d "$work/out"
  mv "$work"/out/* "$dest"/
  fetched=$((fetched + 1))
done < scripts/test-packages.txt
echo "test packages: $fetched downloaded, $(ls "$dest" | wc -l) in $dest"
