"""Inventory matching at national scale (issue 15): components x advisories.

1. **A full match of 1M components** against every advisory in ../shared/data (PyPI, Go,
   crates.io), in components/s on ONE core (the process pins itself to one CPU).
   Components are synthesised from REAL package names and versions: every (package, version)
   the advisories name (their `versions` lists and their range events), plus the versions
   around each (last number -1 and +1, a Go "v" prefix as Go SBOMs carry it), drawn with
   replacement (seeded) to 1M rows, so a package/version recurs as it does across many SBOMs.
   - Peer, in the same run: "the index an expert writes quickly": a dict on (ecosystem, name)
     whose advisories' range bounds are `univers` versions parsed up front; each component's
     version is parsed with univers and walked through its package's ranges. No memo.
   - Ours: `clearinghouse.inventory.matching.engine.AdvisoryIndex` (helper I1), which
     evaluates each distinct (ecosystem, name, version) once through `vulns.ranges`.
   - Also printed: the naive line, `vulns.ranges.is_affected` per component per advisory of
     its package (the product's one evaluator with no index on top), on a sample.
   Targets: ours >= 25x the peer and >= 200,000 components/s.
2. **Peak memory** of each (the growth of the peak RSS while building the index and matching,
   in a forked child per method, so one does not inherit the other's peak).
3. **One new advisory against 1M indexed components**: p50 and p99 of
   `inventory.matching.candidates.components_for_advisory(session, vuln)` on a real SQLite
   database holding 1M component rows. Target: p99 < 50 ms.

`--quick`: 50k components and 10k rows in the database, for a smoke run of about a minute.
Needs ../shared/data (or CLEARINGHOUSE_SHARED_DATA).
"""

from __future__ import annotations

import argparse
import gc
import gzip
import multiprocessing
import os
import random
import re
import resource
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson
from univers import versions as uv

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, pct

from clearinghouse.core.errors import ClearinghouseError
from clearinghouse.vulns import ranges
from clearinghouse.vulns.records import normalise_name

DATA = Path(
    os.environ.get(
        "CLEARINGHOUSE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"
    )
)
FILES = ["osv-pypa/osv-pypa.jsonl.gz", "osv-go/osv-go.jsonl.gz", "rustsec/osv-rustsec.jsonl.gz"]
SEED = 15
Component = tuple[str, str, str]  # (ecosystem, name, version)


# --- the data -------------------------------------------------------------------------------


def advisories() -> list[tuple[str, list[dict[str, Any]]]]:
    """(vuln_id, affected[]) of every advisory in the three files, withdrawn ones left out;
    package names OSV-normalised as the product stores components (`vulns.records`)."""
    out = []
    for name in FILES:
        for line in gzip.open(DATA / name, "rb"):
            rec = orjson.loads(line)
            if rec.get("withdrawn"):
                continue
            affected = [a for a in rec.get("affected", []) if a.get("package")]
            for a in affected:  # components are stored OSV-normalised (vulns.records)
                pkg = a["package"]
                a["package"] = {**pkg, "name": normalise_name(pkg["ecosystem"], pkg["name"])}
            if affected:
                out.append((rec["id"], affected))
    return out


_LAST_NUMBER = re.compile(r"(\d+)(?!.*\d)")


def around(version: str) -> Iterable[str]:
    """The version itself and its neighbours: the last number -1 and +1."""
    yield version
    m = _LAST_NUMBER.search(version)
    if m is None:
        return
    n = int(m.group(1))
    for k in (n - 1, n + 1):
        if k >= 0:
            yield version[: m.start(1)] + str(k) + version[m.end(1) :]


def distinct_components(advs: list[tuple[str, list[dict[str, Any]]]]) -> list[Component]:
    pool: set[Component] = set()
    for _vid, affected in advs:
        for a in affected:
            eco, name = a["package"]["ecosystem"], a["package"]["name"]
            seen = list(a.get("versions", []))
            for r in a.get("ranges", []):
                if r.get("type") in ("SEMVER", "ECOSYSTEM"):
                    seen += [
                        v for e in r.get("events", []) for v in e.values() if v not in ("0", "*")
                    ]
            for v in seen:
                for w in around(v):
                    pool.add((eco, name, w))
                    if eco == "Go":
                        pool.add((eco, name, "v" + w))  # as Go SBOMs write it
    return sorted(pool)


def synthesise(pool: list[Component], n: int) -> list[Component]:
    rng = random.Random(SEED)
    return [pool[rng.randrange(len(pool))] for _ in range(n)]


# --- the peer: the index an expert writes quickly ---------------------------------------------


def _semver(v: str) -> Any:
    return uv.SemverVersion(v[1:] if v.startswith("v") else v)


_BAD = object()


def _try(parse: Callable[[str], Any], v: str) -> Any:
    try:
        return parse(v)
    except Exception:  # univers raises several types for bad input
        return _BAD


def _peer_parser(eco: str, range_type: str) -> Callable[[str], Any]:
    return uv.PypiVersion if eco == "PyPI" and range_type != "SEMVER" else _semver


class PeerIndex:
    """dict[(ecosystem, name)] -> [(vuln_id, listed versions, [ranges as sorted parsed
    events])], bounds parsed with univers up front; each component parsed and walked."""

    def __init__(self, advs: list[tuple[str, list[dict[str, Any]]]]) -> None:
        self.index: dict[tuple[str, str], list[Any]] = defaultdict(list)
        for vid, affected in advs:
            for a in affected:
                eco, name = a["package"]["ecosystem"], a["package"]["name"]
                parsed = []
                for r in a.get("ranges", []):
                    rtype = r.get("type")
                    if rtype not in ("SEMVER", "ECOSYSTEM"):
                        continue
                    parse = _peer_parser(eco, rtype)
                    events = []
                    for e in r.get("events", []):
                        ((kind, v),) = e.items()
                        if kind != "limit":
                            events.append((kind, None if v == "0" else _try(parse, v)))
                    if any(b is _BAD for _k, b in events):
                        continue  # a bound univers cannot parse: the range is skipped
                    # introduced "0" first, then by version
                    events.sort(
                        key=lambda ke: (ke[1] is not None, ke[1] if ke[1] is not None else 0)
                    )
                    parsed.append((parse, events))
                self.index[(eco, name)].append((vid, frozenset(a.get("versions", [])), parsed))

    def match(self, eco: str, name: str, version: str) -> list[str]:
        hits = []
        plain = version[1:] if eco == "Go" and version.startswith("v") else version
        keys: dict[Any, Any] = {}
        for vid, listed, parsed in self.index.get((eco, name), ()):
            if vid in hits:
                continue  # one hit per advisory, however many of its entries name the package
            if version in listed or plain in listed:
                hits.append(vid)
                continue
            for parse, events in parsed:
                key = keys.get(parse)
                if key is None:
                    try:
                        key = keys[parse] = parse(version)
                    except Exception:
                        break
                vulnerable = False
                for kind, bound in events:
                    if kind == "introduced" and (bound is None or key >= bound):
                        vulnerable = True
                    elif kind == "fixed" and key >= bound:
                        vulnerable = False
                    elif kind == "last_affected" and key > bound:
                        vulnerable = False
                if vulnerable:
                    hits.append(vid)
                    break
        return hits


# --- ours, and the naive line ----------------------------------------------------------------


def engine_index(advs: list[tuple[str, list[dict[str, Any]]]]) -> Any | None:
    try:
        from clearinghouse.inventory.matching.engine import AdvisoryIndex  # type: ignore[import-not-found]
    except ImportError:
        return None
    return AdvisoryIndex((vid, {"affected": affected}) for vid, affected in advs)


class NaiveIndex:
    """`vulns.ranges.is_affected` for every advisory of the component's package: the one
    evaluator with a dict in front and nothing else."""

    def __init__(self, advs: list[tuple[str, list[dict[str, Any]]]]) -> None:
        self.index: dict[tuple[str, str], list[tuple[str, dict[str, Any]]]] = defaultdict(list)
        for vid, affected in advs:
            for a in affected:
                self.index[(a["package"]["ecosystem"], a["package"]["name"])].append((vid, a))

    def match(self, eco: str, name: str, version: str) -> list[str]:
        hits = []
        for vid, a in self.index.get((eco, name), ()):
            if vid in hits:
                continue  # one hit per advisory
            try:
                affected = ranges.is_affected(version, a)
            except ClearinghouseError:  # a version the evaluator refuses: not a hit
                affected = False
            if affected:
                hits.append(vid)
        return hits


# --- measurement --------------------------------------------------------------------------------


def _rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def _measure(method: str, advs: Any, components: list[Component], check_n: int, conn: Any) -> None:
    start_rss = _rss_kib()
    t0 = time.perf_counter()
    index: Any
    if method == "peer":
        index = PeerIndex(advs)
    elif method == "naive":
        index = NaiveIndex(advs)
    else:
        index = engine_index(advs)
        if index is None:
            conn.send(None)
            return
    build = time.perf_counter() - t0
    hits = 0
    t1 = time.perf_counter()
    if hasattr(index, "match_many"):  # a batch API, if the engine has one, inside the clock
        index.match_many(components)
    for eco, name, version in components:
        hits += len(index.match(eco, name, version))
    elapsed = time.perf_counter() - t1
    head = sum(len(index.match(*c)) for c in components[:check_n])  # after the clock stops
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    conn.send(
        {
            "build_s": build,
            "match_s": elapsed,
            "per_s": len(components) / elapsed,
            "hits": hits,
            "hits_head": head,
            "peak_growth_mib": max(0, peak - start_rss) / 1024,
        }
    )


def measure(
    method: str, advs: Any, components: list[Component], check_n: int = 0
) -> dict[str, Any] | None:
    """Build the method's index and match every component, in a forked child (its own peak)."""
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_measure, args=(method, advs, components, check_n, child))
    proc.start()
    result: dict[str, Any] | None = parent.recv()
    proc.join()
    return result


def fill(path: Path, pool: list[Component], rows: int) -> Any:
    """A migrated SQLite database with `rows` component rows drawn from `pool`, in SBOMs of
    1,000 components on 1 asset each, of one operator. Returns the Database."""
    from sqlalchemy import insert

    from clearinghouse.accounts.models import Org, OrgKind
    from clearinghouse.core.clock import utcnow
    from clearinghouse.core.ids import new_id
    from clearinghouse.inventory.models import Asset, Component, Sbom
    from clearinghouse.storage import migrate
    from clearinghouse.storage.db import Database

    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db)
    rng = random.Random(SEED + 1)
    now = utcnow()
    org = new_id("org")
    with db.transaction() as s:  # an operator, written directly (no audit key in this bench)
        s.execute(insert(Org).values(id=org, name="bench", kind=OrgKind.operator, created_at=now))
    per_sbom = 1000
    for start in range(0, rows, 50 * per_sbom):
        assets, sboms, comps = [], [], []
        for _ in range(start, min(rows, start + 50 * per_sbom), per_sbom):
            aid, sid = new_id("ast"), new_id("sbm")
            assets.append(
                {
                    "id": aid,
                    "org_id": org,
                    "name": aid,
                    "sector": "energy",
                    "criticality": "high",
                    "created_at": now,
                }
            )
            sboms.append(
                {
                    "id": sid,
                    "asset_id": aid,
                    "seq": 1,
                    "format": "cyclonedx",
                    "spec_version": "1.6",
                    "media": "json",
                    "sha256": "0" * 64,
                    "component_count": per_sbom,
                    "uploaded_at": now,
                    "diff": {},
                }
            )
            for _ in range(per_sbom):
                eco, name, version = pool[rng.randrange(len(pool))]
                comps.append(
                    {
                        "id": new_id("cmp"),
                        "sbom_id": sid,
                        "asset_id": aid,
                        "ecosystem": eco,
                        "name": name,
                        "version": version,
                        "purl": None,
                    }
                )
        with db.transaction() as s:
            s.execute(insert(Asset), assets)
            s.execute(insert(Sbom), sboms)
            s.execute(insert(Component), comps)
    return db


def advisory_latency(advs: Any, pool: list[Component], rows: int) -> dict[str, float] | None:
    """p50/p99 of components_for_advisory on a SQLite database with `rows` component rows,
    for 200 of the real advisories arriving as new ones."""
    try:
        from clearinghouse.inventory.matching.candidates import (  # type: ignore[import-not-found]
            Stats,
            components_for_advisory,
        )
    except ImportError:
        return None
    from clearinghouse.vulns.models import Vulnerability

    rng = random.Random(SEED + 2)
    raw = dict(advs)
    chosen = rng.sample(sorted(raw), min(201, len(raw)))
    warm_up, chosen = chosen[0], chosen[1:]  # imports and statement compilation, untimed
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        db = fill(Path(tmp) / "bench.db", pool, rows)
        print(f"  ({rows:,} component rows written in {time.perf_counter() - t:.0f} s)")
        times, found, worst = [], 0, (0.0, "", "")
        # The bench's own million setup objects (advisories, pool, rows written) are not the
        # product's: keep the collector's full passes over them out of the timed calls.
        gc.collect()
        gc.freeze()
        vuln = Vulnerability(id=warm_up, source_id=warm_up, record={"affected": raw[warm_up]})
        with db.transaction() as s:
            sum(1 for _ in components_for_advisory(s, vuln))
        for vid in chosen:
            vuln = Vulnerability(id=vid, source_id=vid, record={"id": vid, "affected": raw[vid]})
            stats = Stats()
            with db.transaction() as s:
                t = time.perf_counter()
                found += sum(1 for _ in components_for_advisory(s, vuln, stats))
                took = time.perf_counter() - t
            times.append(took)
            if took > worst[0]:
                worst = (
                    took,
                    vid,
                    f"{stats.versions_evaluated:,} versions evaluated, "
                    f"{stats.components_read:,} components read",
                )
        db.dispose()
    return {
        "p50_ms": pct(times, 0.5) * 1000,
        "p99_ms": pct(times, 0.99) * 1000,
        "found": found,
        "worst": f"{worst[1]} {worst[0] * 1000:.0f} ms: {worst[2]}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="50k components: a smoke run")
    parser.add_argument("--components", type=int, default=None)
    parser.add_argument(
        "--advisory-only", action="store_true", help="only the one-new-advisory latency"
    )
    args = parser.parse_args()
    n = args.components or (50_000 if args.quick else 1_000_000)
    rows = 10_000 if args.quick else 1_000_000
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})  # one core, as the target is stated

    t = time.perf_counter()
    advs = advisories()
    pool = distinct_components(advs)
    components = synthesise(pool, n)
    distinct = len(set(components))
    print(f"machine: {machine()}; pinned to CPU {cpu}")
    print(
        f"{len(advs):,} advisories, {len({(a['package']['ecosystem'], a['package']['name']) for _, aff in advs for a in aff}):,} "
        f"packages; {len(pool):,} distinct (ecosystem, name, version); {n:,} components "
        f"({distinct:,} distinct), synthesised in {time.perf_counter() - t:.1f} s"
    )

    # The ceiling for any per-component Python loop on this machine, now: one dict lookup each.
    table = dict.fromkeys(set(components))
    t = time.perf_counter()
    for eco, name, version in components:
        table.get((eco, name, version))
    ceiling = n / (time.perf_counter() - t)
    del table
    print(f"ceiling (one dict lookup per component): {ceiling:>12,.0f} components/s")
    peer_n = min(n, 10_000 if args.quick else 100_000)
    if args.advisory_only:
        report_latency(advs, pool, rows)
        return
    peer = measure("peer", advs, components[:peer_n])
    assert peer is not None
    print(
        f"peer (dict + univers parsed up front, on the first {peer_n:,}): "
        f"{peer['per_s']:>9,.0f} components/s  "
        f"build {peer['build_s']:.2f} s  peak +{peer['peak_growth_mib']:.0f} MiB  hits {peer['hits']:,}"
    )
    sample = components[: min(n, 2_000 if args.quick else 20_000)]
    naive = measure("naive", advs, sample)
    assert naive is not None
    print(
        f"naive (vulns.ranges per component, {len(sample):,} sampled): {naive['per_s']:>9,.0f} components/s"
    )
    # The peer is only a fair peer if it is right: compare it with the product's evaluator.
    check = components[: 500 if args.quick else 2_000]
    peer_index, naive_index = PeerIndex(advs), NaiveIndex(advs)
    differ = [c for c in check if sorted(peer_index.match(*c)) != sorted(naive_index.match(*c))]
    print(
        f"  peer agrees with vulns.ranges on {len(check) - len(differ):,} of {len(check):,} "
        f"components" + (f" (first difference: {differ[0]})" if differ else "")
    )
    del peer_index, naive_index
    ours = measure("ours", advs, components, check_n=peer_n)
    if ours is None:
        print("ours: inventory.matching.engine.AdvisoryIndex is not there yet: not measured")
    else:
        ratio = ours["per_s"] / peer["per_s"]
        print(
            f"ours (AdvisoryIndex):                  {ours['per_s']:>12,.0f} components/s  "
            f"build {ours['build_s']:.2f} s  peak +{ours['peak_growth_mib']:.0f} MiB  hits {ours['hits']:,}"
        )
        print(
            f"ratio ours/peer {ratio:.1f}x (target >= 25x: {'met' if ratio >= 25 else 'NOT met'}); "
            f"{ours['per_s']:,.0f}/s (target >= 200,000: {'met' if ours['per_s'] >= 200_000 else 'NOT met'})"
        )
        same = "the same as" if ours["hits_head"] == peer["hits"] else "NOT the same as"
        print(
            f"  ours found {ours['hits_head']:,} hits on the peer's {peer_n:,} components, {same} "
            f"the peer's {peer['hits']:,}"
        )

    report_latency(advs, pool, rows)


def report_latency(advs: Any, pool: list[Component], rows: int) -> None:
    lat = advisory_latency(advs, pool, rows)
    if lat is None:
        print("one new advisory: inventory.matching.candidates is not there yet: not measured")
    else:
        print(
            f"one new advisory against {rows:,} indexed components: p50 {lat['p50_ms']:.2f} ms  "
            f"p99 {lat['p99_ms']:.2f} ms (target p99 < 50 ms: {'met' if lat['p99_ms'] < 50 else 'NOT met'})"
        )
        print(f"  {lat['found']:,} components found for 200 advisories; slowest {lat['worst']}")


if __name__ == "__main__":
    main()
