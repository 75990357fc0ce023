"""Finding records that describe the same vulnerability, and merging them.

Rules, strongest first (each candidate pair carries the rule that found it and a score):

- `alias`: the records share an id or alias (CVE, GHSA, ...). Score 1.0.
- `package_range_cwe`: the same normalised affected packages, ranges/versions and CWEs
  (`affected_signature`, computed when a record is stored). Score 1.0.
- `crash`: the same crash signature. Sandbox reproduction (a later issue) fills the field in;
  coordinators may set it by hand meanwhile. Score 1.0.
- `text`: near-duplicate wording, by MinHash LSH (datasketch) over word shingles of the
  normalised summary and details, combined with the overlap of the affected packages. This is
  the rule that catches the same finding reported twice in different words by two models.
  Two records that both carry CVE ids, and share none, are never text candidates: a CVE names
  one vulnerability, and a project's advisories are often written from one template (the
  TensorFlow and Go standard library advisories read alike and differ in their CVE).

Candidates are only proposals: a coordinator merges them into one alias set (the primary is
chosen deterministically) or rejects them, and a merge can be undone.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, insert, or_, select
from sqlalchemy.orm import Session, aliased

from clearinghouse.accounts.policy import Action, Principal, authorize
from clearinghouse.audit import services as audit
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import Conflict, InvalidInput, NotFound
from clearinghouse.core.ids import new_id
from clearinghouse.vulns.models import (
    AffectedPackage,
    DuplicateCandidate,
    Merge,
    Vulnerability,
    VulnerabilityAlias,
)
from clearinghouse.vulns.records import reindex, touch
from clearinghouse.vulns.schemas import CandidateOut, MergeOut
from clearinghouse.vulns.search import filter_text
from clearinghouse.vulns.states import OPEN, VulnStatus
from clearinghouse.vulns.visibility import is_public, known_id, load_vuln

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


def _packages_of(session: Session, vuln_ids: list[str]) -> dict[str, set[tuple[str, str]]]:
    out: dict[str, set[tuple[str, str]]] = {v: set() for v in vuln_ids}
    rows = session.execute(
        select(AffectedPackage.vuln_id, AffectedPackage.ecosystem, AffectedPackage.name).where(
            AffectedPackage.vuln_id.in_(vuln_ids)
        )
    )
    for vuln_id, eco, name in rows:
        out[vuln_id].add((eco, name))
    return out


def _cves_of(session: Session, vuln_ids: list[str]) -> dict[str, set[str]]:
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
    pkgs, cves = _packages_of(session, ids), _cves_of(session, ids)
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


def _exact_pairs(session: Session, ids: list[str]) -> list[tuple[str, str, str, float]]:
    """(id, other, rule, score) by the exact rules, for many records in a few set-based
    queries (one per rule and chunk), not three queries per record."""
    found: list[tuple[str, str, str, float]] = []
    mine, other = aliased(VulnerabilityAlias), aliased(VulnerabilityAlias)
    v1, v2 = aliased(Vulnerability), aliased(Vulnerability)
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        rules = {
            "alias": select(mine.vuln_id, other.vuln_id)
            .join(other, other.alias == mine.alias)
            .where(mine.vuln_id.in_(chunk), other.vuln_id != mine.vuln_id),
            "package_range_cwe": select(v1.id, v2.id)
            .join(v2, v2.affected_signature == v1.affected_signature)
            .where(v1.id.in_(chunk), v2.id != v1.id),
            "crash": select(v1.id, v2.id)
            .join(v2, v2.crash_signature == v1.crash_signature)
            .where(v1.id.in_(chunk), v2.id != v1.id),
        }
        for rule, query in rules.items():
            found += [(a, b, rule, 1.0) for a, b in session.execute(query.distinct())]
    return found


def scan(session: Session, vuln_ids: list[str], index: NearDuplicateIndex | None = None) -> int:
    """Find and store candidate pairs for the given records; returns how many are new. A pair
    already proposed by the same rule (open, merged or rejected) is not proposed again."""
    if not vuln_ids:
        return 0
    index = index if index is not None else build_index(session)
    pairs = _exact_pairs(session, vuln_ids)
    pkgs, cves = _packages_of(session, vuln_ids), _cves_of(session, vuln_ids)
    texts = session.execute(
        select(Vulnerability.id, Vulnerability.summary, Vulnerability.details).where(
            Vulnerability.id.in_(vuln_ids)
        )
    ).all()
    for vuln_id, summary, details in texts:
        pairs += [
            (vuln_id, other, "text", score)
            for other, score in index.candidates(
                f"{summary}\n{details}", pkgs[vuln_id], cves[vuln_id], exclude=vuln_id
            )
        ]
    wanted = {(*sorted((a, b)), rule): score for a, b, rule, score in pairs}
    involved = sorted({x for a, b, _ in wanted for x in (a, b)})
    known = set()
    for chunk in (involved[i : i + 500] for i in range(0, len(involved), 500)):
        known |= set(
            session.execute(
                select(
                    DuplicateCandidate.vuln_a, DuplicateCandidate.vuln_b, DuplicateCandidate.rule
                ).where(DuplicateCandidate.vuln_a.in_(chunk))
            ).all()
        )
    now = utcnow()
    rows = [
        {
            "id": new_id("dup"),
            "vuln_a": a,
            "vuln_b": b,
            "rule": rule,
            "score": score,
            "state": "open",
            "decided_by": None,
            "created_at": now,
        }
        for (a, b, rule), score in wanted.items()
        if (a, b, rule) not in known
    ]
    if rows:
        session.execute(insert(DuplicateCandidate), rows)
    return len(rows)


def scan_records(
    session: Session, p: Principal, vuln_ids: list[str], *, all_open: bool = False
) -> dict[str, int]:
    """A coordinator's scan (`vuln:merge`) of the named records, and with `all_open` of every
    record in triage, with its audit event. Returns {scanned, candidates_created}."""
    authorize(p, Action.vuln_merge)
    ids = list(dict.fromkeys(known_id("vulnerability", v) for v in vuln_ids))
    if all_open:
        ids += session.scalars(
            select(Vulnerability.id)
            .where(Vulnerability.status.in_(sorted(s.value for s in OPEN)))
            .order_by(Vulnerability.id)
        ).all()
    ids = list(dict.fromkeys(ids))
    if not ids:
        raise InvalidInput("name records to scan, or pass --open", code="nothing_to_scan")
    created = scan(session, ids)
    audit.record(
        session,
        "vulns:dedup:scan",
        actor=p.actor,
        subject_type="vuln",
        subject_id=None,
        data={"scanned": len(ids), "candidates_created": created, "all_open": all_open},
    )
    return {"scanned": len(ids), "candidates_created": created}


def list_candidates(
    session: Session, p: Principal, *, vuln_id: str | None = None, state: str = "open"
) -> list[CandidateOut]:
    authorize(p, Action.vuln_merge)
    filter_text("vuln_id", vuln_id)
    filter_text("state", state)
    query = select(DuplicateCandidate).where(DuplicateCandidate.state == state)
    if vuln_id:
        query = query.where(
            or_(DuplicateCandidate.vuln_a == vuln_id, DuplicateCandidate.vuln_b == vuln_id)
        )
    rows = session.scalars(query.order_by(DuplicateCandidate.score.desc(), DuplicateCandidate.id))
    return [CandidateOut.model_validate(c, from_attributes=True) for c in rows.all()[:1000]]


def reject_candidate(session: Session, p: Principal, candidate_id: str) -> CandidateOut:
    authorize(p, Action.vuln_merge)
    c = session.get(
        DuplicateCandidate, known_id("duplicate candidate", candidate_id), with_for_update=True
    )
    if c is None:
        raise NotFound(f"no duplicate candidate with id {candidate_id!r}")
    if c.state != "open":
        raise Conflict(f"the candidate is already {c.state}", code="candidate_decided")
    c.state, c.decided_by = "rejected", p.user_id
    audit.record(
        session,
        "vulns:candidate:reject",
        actor=p.actor,
        subject_type="duplicate_candidate",
        subject_id=c.id,
        data={"vuln_a": c.vuln_a, "vuln_b": c.vuln_b, "rule": c.rule},
    )
    return CandidateOut.model_validate(c, from_attributes=True)


def primary_of(vulns: list[Vulnerability]) -> Vulnerability:
    """The deterministic primary of an alias set: a published record before the others, then
    the earliest published, then the lowest id."""
    far = utcnow().replace(year=9999)
    return min(
        vulns,
        key=lambda v: (v.status != VulnStatus.published.value, v.published or far, v.id),
    )


def _merge_out(m: Merge) -> MergeOut:
    return MergeOut(
        id=m.id,
        primary_id=m.primary_id,
        members=m.members,
        undone=m.undone,
        created_at=m.created_at,
    )


def merge(session: Session, p: Principal, vuln_ids: list[str], note: str = "") -> MergeOut:
    """Merge records into one alias set: the primary keeps its id and gains the others' ids as
    aliases; the others become `duplicate` and point at it."""

    ids = sorted(set(vuln_ids))
    if len(ids) < 2:
        raise InvalidInput("a merge needs at least two distinct records", code="merge_too_small")
    vulns = [load_vuln(session, p, i, Action.vuln_merge, for_update=True) for i in ids]
    if len({v.id for v in vulns}) < len(vulns):
        raise InvalidInput("two of the ids name the same record", code="merge_same_record")
    for v in vulns:
        if v.status == VulnStatus.duplicate.value:
            raise Conflict(
                f"{v.id} is already a duplicate of {v.duplicate_of}; undo that merge first",
                code="already_merged",
            )
    primary = primary_of(vulns)
    members = [v for v in vulns if v.id != primary.id]
    now = utcnow()
    prior: dict[str, Any] = {
        "primary_aliases": primary.record.get("aliases", []),
        "members": {v.id: v.status for v in members},
    }
    # Only public members lend their ids to the primary's aliases: the primary may be public,
    # and an embargoed report's id must not appear in a public document.
    now_public = [v for v in members if is_public(v, utcnow())]
    extra = {a for v in now_public for a in (v.source_id, *v.record.get("aliases", []))}
    primary.record = {
        **primary.record,
        "aliases": sorted(set(primary.record.get("aliases", [])) | extra - {primary.source_id}),
    }
    touch(primary, now)
    for v in members:
        v.status, v.duplicate_of = VulnStatus.duplicate.value, primary.id
        touch(v, now)
    session.flush()
    reindex(session, primary)
    member_ids = [v.id for v in vulns]
    for c in session.scalars(
        select(DuplicateCandidate).where(
            and_(
                DuplicateCandidate.vuln_a.in_(member_ids),
                DuplicateCandidate.vuln_b.in_(member_ids),
                DuplicateCandidate.state == "open",
            )
        )
    ):
        c.state, c.decided_by = "merged", p.user_id
    m = Merge(
        id=new_id("mrg"),
        primary_id=primary.id,
        members=[v.id for v in members],
        prior=prior,
        merged_by=p.user_id,
        created_at=now,
    )
    session.add(m)
    session.flush()
    audit.record(
        session,
        "vulns:merge:create",
        actor=p.actor,
        subject_type="vuln_merge",
        subject_id=m.id,
        data={"primary": primary.id, "members": m.members, "note": note},
    )
    return _merge_out(m)


def undo_merge(session: Session, p: Principal, merge_id: str) -> MergeOut:

    m = session.get(Merge, known_id("merge", merge_id), with_for_update=True)
    if m is None:
        raise NotFound(f"no merge with id {merge_id!r}")
    primary = load_vuln(session, p, m.primary_id, Action.vuln_merge, for_update=True)
    if m.undone:
        raise Conflict("the merge is already undone", code="merge_undone")
    now = utcnow()
    primary.record = {**primary.record, "aliases": m.prior["primary_aliases"]}
    touch(primary, now)
    for vuln_id, status in m.prior["members"].items():
        v = session.get(Vulnerability, vuln_id, with_for_update=True)
        if v is not None and v.duplicate_of == primary.id:
            v.status, v.duplicate_of = status, None
            touch(v, now)
    session.flush()
    reindex(session, primary)
    everyone = [primary.id, *m.members]
    for c in session.scalars(
        select(DuplicateCandidate).where(
            DuplicateCandidate.vuln_a.in_(everyone),
            DuplicateCandidate.vuln_b.in_(everyone),
            DuplicateCandidate.state == "merged",
        )
    ):
        c.state, c.decided_by = "open", None
    m.undone = True
    audit.record(
        session,
        "vulns:merge:undo",
        actor=p.actor,
        subject_type="vuln_merge",
        subject_id=m.id,
        data={"primary": primary.id, "members": m.members},
    )
    return _merge_out(m)
