"""Validation by reproduction and triage (issue 11).

1. **Validations per minute on 2 cores**, cold (an empty build cache) and warm (every build
   cached): the six C example recipes (offline), two validations at a time, each the whole
   harness (recipe parsing, content hashing, sandboxed builds, sandboxed runs on the vulnerable
   and the fixed build, the verdict). Peer, in the same run: the same builds with `gcc` on the
   host and the same PoCs run under raw `bwrap --unshare-all` with no harness (the floor any
   bwrap-based reproduction pays); the ratio is our overhead.
2. **Time from intake to the first verdict**: a fresh instance (SQLite, embedded defaults), the
   API and one worker as processes; a report is submitted over HTTP, its recipe attached, and
   the report polled until its validation is finished. The first is cold, the rest warm. Peer:
   the same recipe validated directly (`Validator.validate`, no API, database or job queue).
3. **Triage precision and recall** of the queue's likely-invalid bottom on the labelled corpus
   (tests/data/triage_corpus, the method of tests/vulns/signals/test_corpus.py). Peer: the
   queue by arrival, whose last k reports (k = as many as the signals flag) stand for "likely
   invalid".

    python bench/bench_validation.py [rounds]
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import httpx

from clearinghouse.core.net import OutboundPolicy
from clearinghouse.sandbox import asan
from clearinghouse.vulns.validation.recipe import parse_recipe
from clearinghouse.vulns.validation.runner import Validator

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, median

ROOT = Path(__file__).resolve().parents[1]

EXAMPLES = ROOT / "examples" / "recipes"
C_RECIPES = sorted(p for p in EXAMPLES.iterdir() if p.name.startswith("c-"))
LOOPBACK = OutboundPolicy(allow_private=True, timeout=20, connect_timeout=5)
CLI = [sys.executable, "-m", "clearinghouse"]


# --- 1. throughput -------------------------------------------------------------------------


def ours(cache: Path) -> float:
    """Seconds for every C recipe, two at a time."""
    validator = Validator(cache, index_url="http://127.0.0.1:9/simple", policy=LOOPBACK)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(validator.validate, C_RECIPES))
    elapsed = time.perf_counter() - started
    bad = [r.verdict for r in results if r.verdict != "reproduced"]
    assert not bad, bad
    return elapsed


def _bwrap(workdir: Path, command: str) -> None:
    argv = [
        shutil.which("bwrap") or "bwrap",
        "--unshare-all",
        "--die-with-parent",
        "--ro-bind",
        "/usr",
        "/usr",
        "--symlink",
        "usr/bin",
        "/bin",
        "--symlink",
        "usr/lib",
        "/lib",
        "--symlink",
        "usr/lib64",
        "/lib64",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--bind",
        str(workdir),
        "/w",
        "--chdir",
        "/w/src",
        "/bin/sh",
        "-c",
        command,
    ]
    subprocess.run(
        argv, env={"PATH": "/usr/bin:/bin", **asan.ENV}, capture_output=True, timeout=120
    )


def peer_one(recipe_dir: Path, base: Path, *, build: bool) -> None:
    """The recipe's builds with gcc on the host, its PoC on both builds under raw bwrap."""
    recipe = parse_recipe(recipe_dir)
    spec = recipe.spec.target
    for side, source in (("vulnerable", recipe.source), ("fixed", recipe.fixed_source)):
        assert source is not None and source.path is not None
        work = base / recipe_dir.name / side
        if build:
            shutil.rmtree(work, ignore_errors=True)
            shutil.copytree(source.path, work / "src")
            shutil.copy(recipe.poc_path, work / recipe.poc_name)
            subprocess.run(["/bin/sh", "-c", spec.build or "true"], cwd=work / "src", check=True)
        _bwrap(work, spec.run.replace("{poc}", f"/w/{recipe.poc_name}"))


def peer(base: Path, *, build: bool) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda d: peer_one(d, base, build=build), C_RECIPES))
    return time.perf_counter() - started


def throughput(rounds: int) -> None:
    cold, warm, raw_cold, raw_warm = [], [], [], []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            cache = Path(tmp) / "cache"
            cold.append(ours(cache))
            warm.append(ours(cache))
            raw_cold.append(peer(Path(tmp) / "peer", build=True))
            raw_warm.append(peer(Path(tmp) / "peer", build=False))
    n = len(C_RECIPES)

    def per_minute(seconds: list[float]) -> float:
        return n / median(seconds) * 60

    print(f"\nvalidations of the {n} C example recipes, 2 at a time, {rounds} rounds (medians)")
    print(f"  cold build cache: {per_minute(cold):6.1f}/min  ({median(cold) / n:.2f} s each)")
    print(f"  warm build cache: {per_minute(warm):6.1f}/min  ({median(warm) / n:.2f} s each)")
    print(f"  peer, gcc + raw bwrap, builds: {per_minute(raw_cold):6.1f}/min")
    print(f"  peer, raw bwrap runs only:     {per_minute(raw_warm):6.1f}/min")
    print(
        f"  overhead ratio ours/peer: cold {median(cold) / median(raw_cold):.2f}x, "
        f"warm {median(warm) / median(raw_warm):.2f}x"
    )


# --- 2. intake to the first verdict ---------------------------------------------------------


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def intake_to_verdict(rounds: int) -> None:
    recipe = EXAMPLES / "c-heap-overflow"
    with tempfile.TemporaryDirectory() as tmp:
        var = Path(tmp) / "var"
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CLEARINGHOUSE_")},
            "CLEARINGHOUSE_VAR_DIR": str(var),
            "CLEARINGHOUSE_LOG_LEVEL": "WARNING",
            "CLEARINGHOUSE_WORKER_POLL_SECONDS": "0.05",
            "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}",
        }

        def run(*args: str) -> dict:
            done = subprocess.run([*CLI, *args, "--json"], env=env, capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
            return json.loads(done.stdout)

        run("db", "upgrade")
        token = run("admin", "bootstrap", "--org-name", "Bench", "--email", "b@x.org")["token"]
        port = _port()
        procs = [
            subprocess.Popen(
                [*CLI, "serve", "--port", str(port)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            ),
            subprocess.Popen(
                [*CLI, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            ),
        ]
        packed = Path(tmp) / "recipe.tar.gz"
        with tarfile.open(packed, "w:gz") as tar:
            tar.add(recipe, arcname=recipe.name)
        try:
            api = httpx.Client(
                base_url=f"http://127.0.0.1:{port}",
                headers={"Authorization": f"Bearer {token}"},
                timeout=60,
            )
            for _ in range(200):
                try:
                    if api.get("/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            times = []
            for i in range(rounds + 1):
                started = time.perf_counter()
                report = api.post(
                    "/api/v1/reports",
                    json={
                        "title": f"Heap overflow in store_field() ({i})",
                        "description": "store_field() in records.c writes past the buffer.",
                        "provenance": {"kind": "ai_model", "model_name": "bench"},
                        "target": {"purl": "pkg:generic/records@1.0"},
                    },
                ).json()
                queued = api.post(
                    f"/api/v1/reports/{report['id']}/recipe",
                    files={"file": ("r.tar.gz", packed.read_bytes(), "application/gzip")},
                )
                assert queued.status_code == 202, queued.text
                while True:
                    v = api.get(f"/api/v1/reports/{report['id']}").json()["validation"]
                    if v["state"] in ("done", "error"):
                        break
                    time.sleep(0.02)
                assert v["verdict"] == "reproduced", v
                times.append(time.perf_counter() - started)
        finally:
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                p.wait(timeout=30)
        direct_cold, direct_warm = [], []
        for n in range(rounds):
            validator = Validator(Path(tmp) / f"direct{n}", policy=LOOPBACK)
            t = time.perf_counter()
            validator.validate(recipe)
            direct_cold.append(time.perf_counter() - t)
            t = time.perf_counter()
            validator.validate(recipe)
            direct_warm.append(time.perf_counter() - t)
    print("\nintake to the first verdict (API submit + recipe -> the worker's verdict)")
    print(f"  cold (first report of the instance): {times[0]:.2f} s")
    print(f"  warm, median of {rounds}: {median(times[1:]):.2f} s")
    print(
        f"  peer, the recipe validated directly: cold {median(direct_cold):.2f} s, "
        f"warm {median(direct_warm):.2f} s"
    )
    print(
        f"  ratio ours/direct: cold {times[0] / median(direct_cold):.2f}x, "
        f"warm {median(times[1:]) / median(direct_warm):.2f}x"
    )


# --- 3. triage precision and recall ---------------------------------------------------------


def triage() -> None:
    from tests.vulns.signals import test_corpus as corpus

    from clearinghouse.vulns.signals.queue import rank
    from clearinghouse.vulns.signals.signals import ReportFacts, compute_signals
    from clearinghouse.vulns.signals.source_index import SourceIndex
    from clearinghouse.vulns.validation.sources import extract_archive, single_root

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        recipes = {}
        for report in corpus.REPORTS:
            if report["poc"] is not None and report["poc"]["recipe"] not in recipes:
                rel = report["poc"]["recipe"]
                here = ROOT / rel
                recipes[rel] = (
                    corpus.assemble(here, base / here.name) if (here / "SOURCE").exists() else here
                )
        trees = {}
        for tree in sorted({r["tree"] for r in corpus.REPORTS}):
            if tree.startswith("sdist:"):
                name = tree.removeprefix("sdist:")
                found = list(corpus.PACKAGES.glob(f"{name}.tar.gz"))
                if not found:
                    print("\ntriage: the test packages are not installed (make test-packages)")
                    return
                extract_archive(found[0], base / name)
                trees[tree] = SourceIndex.build(single_root(base / name))
            else:
                trees[tree] = SourceIndex.build(ROOT / tree)
        started = time.perf_counter()
        computed = []
        for report in corpus.REPORTS:
            validation, latest = corpus.validation_of(report, recipes)
            signals = compute_signals(
                ReportFacts(
                    id=report["id"],
                    title=report["title"],
                    text=report["description"],
                    received_at=datetime.fromisoformat(report["received"]),
                    has_poc=report["poc"] is not None,
                    reporter=report["reporter"],
                ),
                index=trees[report["tree"]],
                validation=validation,
                fixed_is_latest_release=latest,
                duplicates=corpus.duplicates_of(recipes, report, computed),
            )
            computed.append((report, signals))
        entries = rank([s for _, s in computed])
        elapsed = time.perf_counter() - started
    labels = {r["id"]: r["label"] for r in corpus.REPORTS}
    invented = sum(1 for v in labels.values() if v == "invented")
    flagged = [e.report_id for e in entries if e.likely_invalid]
    hits = sum(1 for r in flagged if labels[r] == "invented")
    arrival = [r["id"] for r in corpus.REPORTS]  # sorted by arrival
    fifo = arrival[-len(flagged) :] if flagged else []
    fifo_hits = sum(1 for r in fifo if labels[r] == "invented")
    print(f"\ntriage on the labelled corpus: {len(labels)} reports, {invented} invented")
    print(
        f"  likely-invalid bottom: precision {hits / len(flagged):.3f} ({hits}/{len(flagged)}), "
        f"recall {hits / invented:.3f} ({hits}/{invented}); signals + ranking in {elapsed:.2f} s"
    )
    print(
        f"  peer, the last {len(fifo)} by arrival: precision {fifo_hits / len(fifo):.3f}, "
        f"recall {fifo_hits / invented:.3f}; ratio of precisions "
        f"{(hits / len(flagged)) / max(fifo_hits / len(fifo), 1e-9):.1f}x"
    )


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    print(f"machine: {machine()}")
    throughput(rounds)
    intake_to_verdict(rounds)
    triage()


if __name__ == "__main__":
    main()
