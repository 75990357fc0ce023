"""Dedup: quality on the advisory alias groups, and throughput against a 100k-record corpus.

Quality: every PyPA, Go and RustSec record of ../shared/data is imported and scanned; the
candidate pairs are compared with the pairs of advisories that
`advisory-alias-groups/alias_groups.jsonl` puts in one group (a union-find over ids and
aliases). Precision and recall are printed per rule, for the exact rules together, and for all
rules; "transitive" counts a pair as found when the candidates connect it through other records
(what a coordinator's merge of a candidate cluster yields). Note the ground truth is itself
derived from aliases, so the alias rule is favoured by construction; the text rule's figures
are the informative ones.

Throughput: the real records plus synthesised variants (reworded text, renamed packages, fresh
ids) make a corpus of >= 100k records in SQLite; reports are then scanned against it with the
same code the `vulns.scan_duplicates` job runs. Target (TARGETS.md): >= 1k reports/s against a
100k corpus; F1 >= 0.9 on the alias groups.
"""

from __future__ import annotations

import gzip
import itertools
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine

from clearinghouse.accounts.policy import Principal
from clearinghouse.storage import migrate
from clearinghouse.storage.db import Database
from clearinghouse.vulns.dedup import candidates, similarity
from clearinghouse.vulns.intake.osv import import_file
from clearinghouse.vulns.models import DuplicateCandidate, Vulnerability
from clearinghouse.vulns.osv import canonical
from clearinghouse.vulns.records import upsert_batch

DATA = Path(
    os.environ.get(
        "CLEARINGHOUSE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"
    )
)
FILES = ["osv-pypa/osv-pypa.jsonl.gz", "osv-go/osv-go.jsonl.gz", "rustsec/osv-rustsec.jsonl.gz"]
CORPUS = 100_000
REPORTS = 2_000
FILLER = "reportedly potentially specially crafted remote attacker could allow via".split()


def truth_pairs(known: set[str]) -> set[tuple[str, str]]:
    pairs = set()
    for line in (DATA / "advisory-alias-groups" / "alias_groups.jsonl").open():
        ids = sorted(i for i in orjson.loads(line)["advisory_ids"] if i in known)
        pairs |= set(itertools.combinations(ids, 2))
    return pairs


def components(pairs: set[tuple[str, str]]) -> dict[str, str]:
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        parent[find(a)] = find(b)
    return {x: find(x) for x in parent}


def score(pred: set[tuple[str, str]], truth: set[tuple[str, str]]) -> str:
    tp = len(pred & truth)
    p = tp / len(pred) if pred else 1.0
    r = tp / len(truth) if truth else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return f"precision {p:.3f}  recall {r:.3f}  F1 {f1:.3f}  ({len(pred):,} pairs, {tp:,} true)"


def transitive(pred: set[tuple[str, str]], truth: set[tuple[str, str]]) -> str:
    comp = components(pred)
    found = {(a, b) for a, b in truth if a in comp and b in comp and comp[a] == comp[b]}
    r = len(found) / len(truth) if truth else 1.0
    return f"transitive recall {r:.3f}"


def quality(tmp: Path) -> None:
    db = Database(f"sqlite:///{tmp}/quality.db")
    migrate.upgrade(db)
    for name in FILES:
        import_file(db, Principal.system(), DATA / name)
    with db.transaction() as s:
        ids = dict(s.execute(select(Vulnerability.id, Vulnerability.source_id)).all())
    t = time.perf_counter()
    with db.transaction() as s:
        index = similarity.build_index(s)
        built = time.perf_counter() - t
        candidates.scan(s, list(ids), index)
    scanned = time.perf_counter() - t - built
    with db.transaction() as s:
        found = [
            (ids[c.vuln_a], ids[c.vuln_b], c.rule) for c in s.scalars(select(DuplicateCandidate))
        ]
    truth = truth_pairs(set(ids.values()))
    print(
        f"quality: {len(ids):,} real records, {len(truth):,} true pairs in the alias groups; "
        f"index built in {built:.1f} s, all records scanned in {scanned:.1f} s"
    )
    by_rule: dict[str, set[tuple[str, str]]] = {}
    for a, b, rule in found:
        by_rule.setdefault(rule, set()).add(tuple(sorted((a, b))))  # type: ignore[arg-type]
    for rule in ("alias", "package_range_cwe", "crash", "text"):
        pred = by_rule.get(rule, set())
        print(f"  {rule:<18} {score(pred, truth)}  {transitive(pred, truth)}")
    exact = set().union(*(by_rule.get(r, set()) for r in ("alias", "package_range_cwe", "crash")))
    every = exact | by_rule.get("text", set())
    print(f"  {'exact rules':<18} {score(exact, truth)}  {transitive(exact, truth)}")
    print(f"  {'all rules':<18} {score(every, truth)}  {transitive(every, truth)}")
    db.dispose()


def reword(text: str, rng: random.Random) -> str:
    words = text.split()
    for _ in range(max(1, len(words) // 12)):
        words.insert(rng.randrange(len(words) + 1), rng.choice(FILLER))
    return " ".join(words)


def throughput(tmp: Path) -> None:
    rng = random.Random(7)
    real = [orjson.loads(line) for name in FILES for line in gzip.open(DATA / name, "rb")]
    db = Database(f"sqlite:///{tmp}/corpus.db")
    migrate.upgrade(db)
    t = time.perf_counter()
    batch: list[dict[str, Any]] = []
    for n in range(CORPUS):
        base = real[n % len(real)]
        rec = dict(base)
        if n >= len(real):  # a synthesised variant: new id, reworded, renamed package
            rec["id"] = f"SYN-{n}"
            rec["aliases"] = []
            rec["summary"] = reword(base.get("summary", ""), rng)
            rec["details"] = reword(base.get("details", ""), rng)
            rec["affected"] = [
                {**a, "package": {**a["package"], "name": f"{a['package']['name']}-fork{n % 97}"}}
                for a in base.get("affected", [])
                if a.get("package")
            ]
        batch.append(canonical(rec))
        if len(batch) == 1000:
            with db.transaction() as s:
                upsert_batch(s, batch)
            batch.clear()
    if batch:
        with db.transaction() as s:
            upsert_batch(s, batch)
    loaded = time.perf_counter() - t
    with db.transaction() as s:
        t = time.perf_counter()
        index = similarity.build_index(s)
        built = time.perf_counter() - t
        ids = s.scalars(select(Vulnerability.id)).all()
    sample = rng.sample(list(ids), REPORTS)
    with db.transaction() as s:
        t = time.perf_counter()
        created = candidates.scan(s, sample, index)
        elapsed = time.perf_counter() - t
    rate = REPORTS / elapsed
    print(
        f"throughput: corpus of {len(ids):,} records (loaded in {loaded:.0f} s, LSH index built "
        f"in {built:.0f} s); {REPORTS:,} reports scanned in {elapsed:.1f} s = {rate:,.0f} reports/s "
        f"({created:,} candidate pairs); target >= 1,000/s: {'met' if rate >= 1000 else 'NOT met'}"
    )
    db.dispose()


def main() -> None:
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        if "--throughput-only" not in sys.argv:
            quality(Path(tmp))
        if "--quality-only" not in sys.argv:
            throughput(Path(tmp))


if __name__ == "__main__":
    main()
