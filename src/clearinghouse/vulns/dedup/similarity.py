"""The near-duplicate text index: MinHash LSH over word shingles of a record's summary and
details, and what the exact rules and the score read about records (packages, CVE aliases)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearinghouse.vulns.models import AffectedPackage, Vulnerability, VulnerabilityAlias
from clearinghouse.vulns.states import VulnStatus

if TYPE_CHECKING:
    # datasketch imports scipy (~0.6 s); every CLI command and worker loads this module to
    # register its job handler, and only a dedup scan needs it.
    from datasketch import MinHash, MinHashLSH

NUM_PERM = 64
TEXT_THRESHOLD = 0.5  # LSH Jaccard threshold for the text rule
SCORE_THRESHOLD = 0.65  # minimum combined score to propose a pair (tuned on the alias groups)
STOP_SAMPLE = 20_000
STOP_FRACTION = 0.002
STOP_MIN_DOCS = 20
_URL = re.compile(r"https?://\S+")
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an and are as at be by for from has have in is it its of on or that the this to was "
    "were which with".split()
)


def normalise_text(text: str) -> list[str]:
    """Lower-cased words without URLs or stop words: what two wordings of one flaw share."""
    return [w for w in _WORD.findall(_URL.sub(" ", text.lower())) if w not in _STOP]


def shingles(text: str, k: int = 3) -> set[bytes]:
    words = normalise_text(text)
    if len(words) < k:
        return {w.encode() for w in words}
    return {" ".join(words[i : i + k]).encode() for i in range(len(words) - k + 1)}


def minhash(text: str, stop: frozenset[bytes] = frozenset()) -> MinHash | None:
    """The MinHash of the text's shingles, boilerplate (`stop`) removed; None if nothing is
    left to compare."""
    kept = shingles(text) - stop
    if not kept:
        return None
    from datasketch import MinHash

    m = MinHash(num_perm=NUM_PERM, seed=1)
    m.update_batch(list(kept))
    return m


def _jaccard(a: set[Any], b: set[Any]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def _new_lsh() -> MinHashLSH:
    from datasketch import MinHashLSH

    return MinHashLSH(threshold=TEXT_THRESHOLD, num_perm=NUM_PERM)


@dataclass
class NearDuplicateIndex:
    """An in-memory LSH index over the corpus; built once per scan (or per benchmark)."""

    lsh: MinHashLSH = field(default_factory=_new_lsh)
    hashes: dict[str, MinHash] = field(default_factory=dict)
    packages: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    cves: dict[str, frozenset[str]] = field(default_factory=dict)
    # Shingles so common in the corpus that they say nothing (an ecosystem's boilerplate:
    # "TensorFlow is an open source platform for machine learning" opens hundreds of records).
    stop: frozenset[bytes] = frozenset()

    def add(
        self,
        vuln_id: str,
        text: str,
        packages: Iterable[tuple[str, str]],
        cves: Iterable[str] = (),
    ) -> None:
        if vuln_id in self.hashes:
            return
        m = minhash(text, self.stop)
        if m is None:
            return
        self.lsh.insert(vuln_id, m)
        self.hashes[vuln_id] = m
        self.packages[vuln_id] = set(packages)
        if cves := frozenset(cves):
            self.cves[vuln_id] = cves

    def candidates(
        self,
        text: str,
        packages: Iterable[tuple[str, str]],
        cves: Iterable[str] = (),
        *,
        exclude: str | None = None,
    ) -> list[tuple[str, float]]:
        """(id, score) of the records that read like `text`, best first."""
        m = minhash(text, self.stop)
        if m is None:
            return []
        mine, my_cves = set(packages), frozenset(cves)
        out = []
        for other in self.lsh.query(m):
            if other == exclude:
                continue
            their_cves = self.cves.get(other)
            if my_cves and their_cves and not my_cves & their_cves:
                continue  # two different CVEs: two vulnerabilities, however alike the text
            similarity = m.jaccard(self.hashes[other])
            theirs = self.packages[other]
            score = (
                0.7 * similarity + 0.3 * _jaccard(mine, theirs) if mine and theirs else similarity
            )
            if score >= SCORE_THRESHOLD:
                out.append((other, round(score, 4)))
        return sorted(out, key=lambda x: (-x[1], x[0]))


def packages_of(session: Session, vuln_ids: list[str]) -> dict[str, set[tuple[str, str]]]:
    out: dict[str, set[tuple[str, str]]] = {v: set() for v in vuln_ids}
    rows = session.execute(
        select(AffectedPackage.vuln_id, AffectedPackage.ecosystem, AffectedPackage.name).where(
            AffectedPackage.vuln_id.in_(vuln_ids)
        )
    )
    for vuln_id, eco, name in rows:
        out[vuln_id].add((eco, name))
    return out


def cves_of(session: Session, vuln_ids: list[str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {v: set() for v in vuln_ids}
    rows = session.execute(
        select(VulnerabilityAlias.vuln_id, VulnerabilityAlias.alias).where(
            VulnerabilityAlias.vuln_id.in_(vuln_ids), VulnerabilityAlias.alias.like("CVE-%")
        )
    )
    for vuln_id, alias in rows:
        out[vuln_id].add(alias)
    return out


def boilerplate(session: Session, sample: int = STOP_SAMPLE) -> frozenset[bytes]:
    """Shingles found in more than STOP_FRACTION of (a sample of) the records."""
    counts: Counter[bytes] = Counter()
    texts = session.execute(
        select(Vulnerability.summary, Vulnerability.details)
        .order_by(Vulnerability.id)
        .limit(sample)
    ).all()
    for summary, details in texts:
        counts.update(shingles(f"{summary}\n{details}"))
    floor = max(STOP_MIN_DOCS, STOP_FRACTION * len(texts))
    return frozenset(s for s, n in counts.items() if n >= floor)


def add_records(
    session: Session, index: NearDuplicateIndex, rows: Iterable[tuple[str, str, str]]
) -> None:
    """Add (id, summary, details) rows to the index, with their packages and CVE ids."""
    rows = list(rows)
    ids = [r[0] for r in rows]
    pkgs, cves = packages_of(session, ids), cves_of(session, ids)
    for vuln_id, summary, details in rows:
        index.add(vuln_id, f"{summary}\n{details}", pkgs[vuln_id], cves[vuln_id])


def build_index(session: Session, batch: int = 2000) -> NearDuplicateIndex:
    """The LSH index over every record that is not itself a merged duplicate."""
    index = NearDuplicateIndex(stop=boilerplate(session))
    last = ""
    while True:
        rows = session.execute(
            select(Vulnerability.id, Vulnerability.summary, Vulnerability.details)
            .where(Vulnerability.id > last, Vulnerability.status != VulnStatus.duplicate.value)
            .order_by(Vulnerability.id)
            .limit(batch)
        ).all()
        if not rows:
            return index
        add_records(session, index, rows)
        last = rows[-1][0]
