"""The SQL side of the case policy, on the real databases: for every kind of caller, the case
listing, the messages, the timeline and the artifacts return exactly the rows `can_see`
allows one by one (computed here from the rows and the policy's `Target`s, independently of
the listing code)."""

from __future__ import annotations

import base64

from sqlalchemy import select

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.accounts.policy import Principal, can_see
from clearinghouse.container import Services
from clearinghouse.coordination import artifacts, cases, messages, participants, timeline
from clearinghouse.coordination.access import case_target, item_target
from clearinghouse.coordination.models import Artifact, Case, Message, TimelineEvent
from clearinghouse.coordination.schemas import (
    ArtifactCreate,
    CaseCreate,
    MessageCreate,
    ParticipantCreate,
)
from clearinghouse.vulns import reports
from clearinghouse.vulns.schemas import ReportCreate
from tests.support.world import World

REPORT = {
    "title": "overflow in demo",
    "description": "a crafted header overflows a fixed buffer",
    "provenance": {"kind": "human"},
    "target": {"purl": "pkg:pypi/demo@1.0"},
}


def _p(org: str, kind: OrgKind, role: Role = Role.member) -> Principal:
    return Principal(None, org, kind, role)


def test_every_listing_matches_can_see(services: Services, world: World) -> None:
    kinds = {
        "co": OrgKind.coordinator,
        "co2": OrgKind.coordinator,
        "lab": OrgKind.lab,
        "vd": OrgKind.vendor,
        "vd2": OrgKind.vendor,
        "op": OrgKind.operator,
        "op2": OrgKind.operator,
        "ev": OrgKind.evaluator,
    }
    orgs = {name: world.org(kind) for name, kind in kinds.items()}
    callers = {name: _p(orgs[name], kinds[name]) for name in orgs}
    callers["nobody"] = Principal(None, None, None, None)
    system = Principal.system()
    with services.db.transaction() as s:
        vuln = reports.submit_report(
            s, callers["lab"], services.vault, ReportCreate.model_validate(REPORT)
        ).vuln_id
        other_vuln = reports.submit_report(
            s, callers["ev"], services.vault, ReportCreate.model_validate(REPORT)
        ).vuln_id
        cid = cases.create_case(
            s,
            callers["co"],
            CaseCreate(vuln_ids=[vuln], title="one", tlp="GREEN"),  # type: ignore[arg-type]
        ).id
        cases.create_case(s, callers["co"], CaseCreate(vuln_ids=[other_vuln], title="two"))
        for org, role in (("vd", "vendor"), ("vd2", "vendor"), ("op", "operator_group")):
            participants.add_participant(
                s,
                system,
                cid,
                ParticipantCreate.model_validate({"org_id": orgs[org], "role": role}),
            )
        for author in ("co", "vd", "lab"):
            for tlp in ("GREEN", "AMBER", "AMBER+STRICT", "RED"):
                for recipients in ([], [orgs["vd2"]]):
                    if recipients and tlp != "RED":
                        continue
                    body = MessageCreate.model_validate(
                        {"body": f"{author}-{tlp}", "tlp": tlp, "recipient_org_ids": recipients}
                    )
                    messages.post_message(s, callers[author], services.vault, cid, body)
                artifacts.upload(
                    s,
                    callers[author],
                    services.blobs,
                    cid,
                    ArtifactCreate.model_validate(
                        {
                            "filename": "f.bin",
                            "tlp": tlp,
                            "content_base64": base64.b64encode(b"x").decode(),
                        }
                    ),
                    max_bytes=1024,
                )

    with services.db.transaction() as s:
        case = s.get(Case, cid)
        assert case is not None
        target = case_target(s, case)
        all_cases = list(s.scalars(select(Case)))
        rows = {
            "case_message": [
                item_target(
                    target, "case_message", m.id, m.tlp, m.author_org_id, m.recipient_org_ids
                )
                for m in s.scalars(select(Message).where(Message.case_id == cid))
            ],
            "case_event": [
                item_target(target, "case_event", e.id, e.tlp, e.actor_org_id, e.recipient_org_ids)
                for e in s.scalars(select(TimelineEvent).where(TimelineEvent.case_id == cid))
            ],
            "case_artifact": [
                item_target(target, "case_artifact", a.id, a.tlp, a.uploaded_by_org_id, [])
                for a in s.scalars(select(Artifact).where(Artifact.case_id == cid))
            ],
        }
        for name, p in callers.items():
            expected_cases = {c.id for c in all_cases if can_see(p, case_target(s, c))}
            listed = {
                c.id for c in cases.list_cases(s, p, state=None, limit=200, cursor=None).items
            }
            assert listed == expected_cases, name
            if not can_see(p, target):
                continue
            got = {
                "case_message": messages.list_messages(
                    s, p, services.vault, cid, limit=200, cursor=None
                ).items,
                "case_event": timeline.list_events(s, p, cid, limit=200, cursor=None).items,
            }
            if name not in ("op",):
                got["case_artifact"] = artifacts.list_artifacts(
                    s, p, cid, limit=200, cursor=None
                ).items
            for kind, items in got.items():
                expected = {t.id for t in rows[kind] if can_see(p, t)}
                assert {i.id for i in items} == expected, (name, kind)
        # a few written out by hand: vd2 reads the RED messages addressed to it, not others'
        vd2 = messages.list_messages(s, callers["vd2"], services.vault, cid, limit=200, cursor=None)
        red = sorted(m.body for m in vd2.items if m.tlp == "RED")
        assert red == ["co-RED", "lab-RED", "vd-RED"]
        op = messages.list_messages(s, callers["op"], services.vault, cid, limit=200, cursor=None)
        assert {m.tlp for m in op.items} == {"GREEN"}
