"""Every vulns listing returns exactly the rows `can_see` allows, for every kind of caller, on
the real databases, filtered in SQL (pages are full until the last one).

The knowledge base holds a public record, an embargoed one, a TLP:AMBER one, reports of two
vendors, a lab and an evaluator (filed by the worker in its name), one the system filed (no
reporter organisation), a public record born of a report, and two merged reports: one whose
primary is another organisation's embargoed report (the pointer must not reach the lab), one
whose primary is public. The expected rows are computed here from the rows themselves and
`can_see` on the policy's `Target`s, independently of the listing code; a few callers' sets are
also written out by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from operator import attrgetter
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from clearinghouse.accounts import tokens as accounts
from clearinghouse.accounts.listing import scoped_page
from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.accounts.policy import Principal, Target, can_see, list_scope
from clearinghouse.container import Services
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import InvalidInput, PermissionDenied
from clearinghouse.vulns import reports, search
from clearinghouse.vulns.dedup import candidates, merges
from clearinghouse.vulns.models import DuplicateCandidate, Vulnerability, VulnerabilityReport
from clearinghouse.vulns.records import upsert_batch
from clearinghouse.vulns.schemas import ReportCreate
from clearinghouse.vulns.visibility import VULN_CONDITIONS, is_public
from tests.support.vulns import record
from tests.support.world import World


@dataclass
class Kb:
    services: Services
    callers: dict[str, Principal]
    vulns: dict[str, str]  # label → record id


def _report(s: Session, services: Services, p: Principal, label: str) -> str:
    body = ReportCreate.model_validate(
        {
            "title": f"{label} summary",
            "description": "a crafted header overflows a fixed heap buffer in the parser",
            "provenance": {"kind": "human"},
            "target": {"purl": "pkg:pypi/tinyparse@2.4.0"},
        }
    )
    return reports.submit_report(s, p, services.vault, body).vuln_id


@pytest.fixture
def kb(world: World, services: Services) -> Kb:
    orgs = {
        name: (world.org(kind), kind)
        for name, kind in [
            ("coordinator", OrgKind.coordinator),
            ("lab", OrgKind.lab),
            ("evaluator", OrgKind.evaluator),
            ("vendor_a", OrgKind.vendor),
            ("vendor_b", OrgKind.vendor),
            ("operator", OrgKind.operator),
        ]
    }
    members = {
        "coordinator_admin": ("coordinator", Role.admin, None),
        "coordinator_member": ("coordinator", Role.member, None),
        "coordinator_viewer": ("coordinator", Role.viewer, None),
        "coordinator_read_only": ("coordinator", Role.member, ["read"]),
        "lab_admin": ("lab", Role.admin, None),
        "lab_member": ("lab", Role.member, None),
        "evaluator": ("evaluator", Role.member, None),
        "vendor_a": ("vendor_a", Role.member, None),
        "vendor_a_write_only": ("vendor_a", Role.member, ["write"]),
        "vendor_a_read_only": ("vendor_a", Role.viewer, ["read"]),
        "vendor_b": ("vendor_b", Role.admin, None),
        "operator": ("operator", Role.viewer, None),
    }
    callers: dict[str, Principal] = {}
    for name, (org, role, scopes) in members.items():
        m = world.member(orgs[org][0], orgs[org][1], role, scopes)
        with services.db.transaction() as s:
            callers[name] = accounts.authenticate(s, m.token)
    callers["on_behalf_of_evaluator"] = Principal.on_behalf_of(
        orgs["evaluator"][0], OrgKind.evaluator, "eval run run_x found it"
    )
    callers["system"] = Principal.system()
    callers["no_organisation"] = Principal(None, None, None, None)

    vulns: dict[str, str] = {}
    with services.db.transaction() as s:
        upsert_batch(s, [record("PUB"), record("EMB"), record("AMBER")])
        for v in s.scalars(select(Vulnerability)):
            vulns[v.source_id] = v.id
            if v.source_id == "EMB":
                v.embargo_until = utcnow() + timedelta(days=7)
            if v.source_id == "AMBER":
                v.tlp = "AMBER"
        # Filed in this order so the merges below pick the intended primaries.
        for label, who in [
            ("RB", "vendor_b"),
            ("RL", "lab_member"),
            ("RA", "vendor_a"),
            ("RA_PUB", "vendor_a"),
            ("RA_DUP", "vendor_a"),
            ("RS", "system"),
            ("RE", "on_behalf_of_evaluator"),
        ]:
            vulns[label] = _report(s, services, callers[who], label)
        born = s.get(Vulnerability, vulns["RA_PUB"])
        assert born is not None
        born.status, born.tlp, born.embargo_until = "published", "CLEAR", None
        s.flush()
        candidates.scan(s, sorted(vulns.values()))
    with services.db.transaction() as s:
        system = Principal.system()
        assert merges.merge(s, system, [vulns["RB"], vulns["RL"]]).primary_id == vulns["RB"]
        assert merges.merge(s, system, [vulns["PUB"], vulns["RA_DUP"]]).primary_id == vulns["PUB"]
    return Kb(services, callers, vulns)


def _vuln_targets(s: Session) -> dict[str, Target]:
    reporters: dict[str, set[str]] = {}
    for vuln_id, org in s.execute(
        select(VulnerabilityReport.vuln_id, VulnerabilityReport.reporter_org_id)
    ):
        reporters.setdefault(vuln_id, set()).update({org} - {None})
    return {
        v.id: Target(
            "vuln",
            v.id,
            public=is_public(v, utcnow()),
            reporter_org_ids=frozenset(reporters.get(v.id, ())),
        )
        for v in s.scalars(select(Vulnerability))
    }


def _report_targets(s: Session) -> dict[str, tuple[str, Target]]:
    """report id → (its record, the policy's view of the report)."""
    return {
        r.id: (
            r.vuln_id,
            Target("vuln_report", r.id, reporter_org_ids=frozenset({r.reporter_org_id} - {None})),
        )
        for r in s.scalars(select(VulnerabilityReport))
    }


def _all_pages(fetch: Callable[[str | None], Any], limit: int) -> list[Any]:
    """Every item, page by page; each page but the last is full (a listing that filtered in
    Python after reading `limit` rows would return short or empty pages with a cursor)."""
    items: list[Any] = []
    cursor: str | None = None
    while True:
        page = fetch(cursor)
        items += page.items
        if page.next_cursor is None:
            return items
        assert len(page.items) == limit, "a page short of its limit, with more to come"
        cursor = page.next_cursor


@pytest.mark.parametrize("limit", [1, 3])
def test_record_and_search_listings_return_exactly_what_can_see_allows(kb: Kb, limit: int) -> None:
    with kb.services.db.transaction() as s:
        targets = _vuln_targets(s)
        for name, p in kb.callers.items():
            expected = {vid for vid, t in targets.items() if can_see(p, t)}
            for q in (None, "summary"):
                listed = _all_pages(
                    lambda c, p=p, q=q: search.list_vulns(s, p, q=q, limit=limit, cursor=c),
                    limit,
                )
                assert len(listed) == len({v.id for v in listed}), (name, q)
                assert {v.id for v in listed} == expected, (name, q)
                for v in listed:  # the merge pointer, only where its target may be seen
                    row = s.get(Vulnerability, v.id)
                    assert row is not None
                    shown = row.duplicate_of if row.duplicate_of in expected else None
                    assert v.duplicate_of == shown, (name, v.id)


def test_report_listings_return_exactly_what_can_see_allows(kb: Kb) -> None:
    with kb.services.db.transaction() as s:
        vuln_targets = _vuln_targets(s)
        report_targets = _report_targets(s)
        for name, p in kb.callers.items():
            expected = {rid for rid, (_, t) in report_targets.items() if can_see(p, t)}
            for limit in (1, 2):
                listed = _all_pages(
                    lambda c, p=p, limit=limit: reports.list_reports(s, p, limit=limit, cursor=c),
                    limit,
                )
                assert {r.id for r in listed} == expected, name
                # The generic helper, narrowed further in SQL, pages the same way.
                paged = _all_pages(
                    lambda c, p=p, limit=limit: scoped_page(
                        s,
                        p,
                        "vuln_report",
                        VulnerabilityReport,
                        attrgetter("id"),
                        limit=limit,
                        cursor=c,
                        where=[VulnerabilityReport.vuln_id != kb.vulns["RA"]],
                    ),
                    limit,
                )
                assert set(paged) == {
                    rid for rid in expected if report_targets[rid][0] != kb.vulns["RA"]
                }, name
            # A record's detail names only the reports the caller may see.
            for vid, t in vuln_targets.items():
                if not can_see(p, t):
                    continue
                detail = search.vuln_detail(s, p, vid)
                mine = {rid for rid in expected if report_targets[rid][0] == vid}
                assert set(detail.reports) == mine, (name, vid)
                row = s.get(Vulnerability, vid)
                assert row is not None
                visible_primary = row.duplicate_of and can_see(p, vuln_targets[row.duplicate_of])
                assert detail.duplicate_of == (row.duplicate_of if visible_primary else None)


def test_a_listing_of_nothing_still_refuses_a_bad_limit(kb: Kb) -> None:
    with kb.services.db.transaction() as s:
        p = kb.callers["no_organisation"]
        assert list_scope(p, "vuln_report").nothing
        with pytest.raises(InvalidInput) as e:
            scoped_page(s, p, "vuln_report", VulnerabilityReport, str, limit=0, cursor=None)
        assert e.value.code == "limit_invalid"
        assert reports.list_reports(s, p, limit=1).items == []


def test_duplicate_candidates_are_listed_to_those_who_may_merge_and_see_them(kb: Kb) -> None:
    with kb.services.db.transaction() as s:
        for state in ("open", "merged", "rejected"):
            every = set(
                s.scalars(
                    select(DuplicateCandidate.id).where(DuplicateCandidate.state == state)
                ).all()
            )
            for name, p in kb.callers.items():
                try:
                    listed = candidates.list_candidates(s, p, state=state)
                except PermissionDenied:
                    assert not (p.is_system or name in {"coordinator_admin", "coordinator_member"})
                    continue
                seen = {c for c in every if can_see(p, Target("duplicate_candidate", c))}
                assert {c.id for c in listed} == seen, (name, state)
        assert s.scalar(select(DuplicateCandidate.id).limit(1)) is not None


def test_what_each_caller_sees_written_out(kb: Kb) -> None:
    """The same sets by hand, so a policy that drifted would not pass by agreeing with itself."""
    v = kb.vulns
    public = {v["PUB"], v["RA_PUB"]}
    everything = set(v.values())
    want = {
        "coordinator_viewer": everything,
        "coordinator_read_only": everything,
        "system": everything,
        "vendor_a": public | {v["RA"], v["RA_DUP"]},
        "vendor_a_write_only": public | {v["RA"], v["RA_DUP"]},
        "vendor_a_read_only": public | {v["RA"], v["RA_DUP"]},
        "vendor_b": public | {v["RB"]},
        "lab_admin": public | {v["RL"]},
        "evaluator": public | {v["RE"]},
        "on_behalf_of_evaluator": public | {v["RE"]},
        "operator": public,
        "no_organisation": public,
    }
    reported = {"RB", "RL", "RA", "RA_PUB", "RA_DUP", "RS", "RE"}
    queues = {
        "coordinator_viewer": reported,
        "coordinator_read_only": reported,
        "system": reported,
        "vendor_a": {"RA", "RA_PUB", "RA_DUP"},
        "vendor_a_write_only": {"RA", "RA_PUB", "RA_DUP"},
        "vendor_a_read_only": {"RA", "RA_PUB", "RA_DUP"},
        "vendor_b": {"RB"},
        "lab_admin": {"RL"},
        "evaluator": {"RE"},
        "on_behalf_of_evaluator": {"RE"},
        "operator": set(),
        "no_organisation": set(),
    }
    with kb.services.db.transaction() as s:
        for name, ids in want.items():
            p = kb.callers[name]
            listed = search.list_vulns(s, p, limit=50).items
            assert {x.id for x in listed} == ids, name
            by_id = {x.id: x for x in listed}
            if v["RL"] in by_id:  # merged into vendor B's embargoed report
                assert by_id[v["RL"]].duplicate_of == (None if name == "lab_admin" else v["RB"])
            if v["RA_DUP"] in by_id:  # merged into the public record
                assert by_id[v["RA_DUP"]].duplicate_of == v["PUB"]
            queue = reports.list_reports(s, p, limit=50).items
            assert {r.vuln_id for r in queue} == {v[x] for x in queues[name]}, name
        # The public record born of vendor A's report does not name that report to others.
        assert search.vuln_detail(s, kb.callers["vendor_b"], v["RA_PUB"]).reports == []
        assert len(search.vuln_detail(s, kb.callers["vendor_a"], v["RA_PUB"]).reports) == 1


def test_a_listing_that_forgets_the_sql_of_a_named_condition_fails_loudly() -> None:
    """`public` is no column: a listing of records without `VULN_CONDITIONS` is a bug that
    raises, never a filter that silently matches the wrong rows."""
    vendor = Principal("u_v", "org_v", OrgKind.vendor, Role.member)
    with pytest.raises(TypeError, match="public"):
        list_scope(vendor, "vuln").clause(Vulnerability)
    assert list_scope(vendor, "vuln").clause(Vulnerability, VULN_CONDITIONS) is not None
