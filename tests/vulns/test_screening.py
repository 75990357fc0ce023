"""Triage signals in the product, without the sandbox: the queue in SQL orders exactly as
`queue.rank()` orders the stored signals (overrides applied), on both databases and across pages;
overrides need a reason, are audited, keep the automatic value and move the report; the spot-check
sample is the audit sample; a dedup scan makes the duplicate signal known; a report is grounded
at intake against the kept source tree of an earlier validation of its target."""

from __future__ import annotations

import hashlib
import random
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from clearinghouse.audit.models import AuditEvent
from clearinghouse.container import Services
from clearinghouse.core.clock import utcnow
from clearinghouse.core.events import AuditTag
from clearinghouse.core.ids import new_id
from clearinghouse.vulns import screening
from clearinghouse.vulns.models import (
    ReportSignals,
    SignalOverride,
    Validation,
    Vulnerability,
    VulnerabilityReport,
)
from clearinghouse.vulns.signals.overrides import apply_overrides, likely_invalid_override
from clearinghouse.vulns.signals.queue import Placement, audit_sample, entry, placement
from clearinghouse.vulns.signals.signals import TriageSignals
from clearinghouse.vulns.signals.source_index import SourceIndex
from clearinghouse.vulns.source_trees import SourceTrees
from clearinghouse.vulns.validation.schemas import (
    FixedVerdict,
    SourceRef,
    ValidationResult,
    Verdict,
)
from clearinghouse.vulns.validation.sources import tree_digest
from clearinghouse.workers.runner import Worker
from tests.support.world import Member
from tests.vulns import recipe_kit
from tests.vulns.test_validations import submit, submit_corpus

TREE = recipe_kit.HEAP / "vulnerable"
INDEX = SourceIndex.build(TREE)
GOOD = "store_field() (records.c:21) writes one past the buffer, from parse_records()."
INVENTED = "Use after free in free_session_cache() in session_mgr.c:210."
SIGNATURE = "heap-buffer-overflow@store_field|parse_records|main"


def _validated(fixed: FixedVerdict) -> ValidationResult:
    return ValidationResult(
        verdict=Verdict.reproduced,
        fixed_verdict=fixed,
        signature=SIGNATURE,
        crash_type="heap-buffer-overflow",
        fixed_source=SourceRef(
            kind="directory", ref="fixed", sha256="0" * 64, tree_sha256="0" * 64
        ),
    )


NOT_REPRODUCED = ValidationResult(
    verdict=Verdict.not_reproduced, fixed_verdict=FixedVerdict.not_run, expect="asan"
)
KINDS: list[tuple[str, SourceIndex | None, ValidationResult | None]] = [
    (GOOD, INDEX, _validated(FixedVerdict.fixed_confirmed)),
    (GOOD, INDEX, _validated(FixedVerdict.still_reproduces)),
    (GOOD, INDEX, NOT_REPRODUCED),
    (GOOD, INDEX, None),
    (GOOD, None, None),
    (INVENTED, INDEX, None),
    (INVENTED, INDEX, NOT_REPRODUCED),
    ("Critical RCE via crafted input. Please fix ASAP.", INDEX, None),
    ("Critical RCE via crafted input. Please fix ASAP.", None, None),
]


def _store(
    services: Services,
    report_id: str,
    index: SourceIndex | None,
    validation: ValidationResult | None,
) -> None:
    with services.db.transaction() as s:
        report = s.get(VulnerabilityReport, report_id)
        assert report is not None
        vuln = s.get(Vulnerability, report.vuln_id)
        assert vuln is not None
        screening.store(
            s,
            report,
            vuln,
            stage="validated" if validation else "intake",
            index=index,
            validation=validation,
        )


@pytest.fixture
def populated(client: TestClient, services: Services, people: dict[str, Member]) -> list[str]:
    """Eighteen reports of every kind, by three models, stored with their signals."""
    rng = random.Random(20261203)
    ids = []
    for n in range(18):
        text, index, validation = KINDS[rng.randrange(len(KINDS))]
        report = submit(
            client,
            people["vendor"] if n % 2 else people["lab"],
            title=f"report {n}",
            description=text,
            model=("model-a", "model-b", None)[n % 3],
        )
        _store(services, report["id"], index, validation)
        ids.append(report["id"])
    return ids


def _expected(services: Services) -> list[tuple[str, str]]:
    """What `rank()` makes of the stored signals, overrides applied: (report id, why)."""
    placed: list[Placement] = []
    with services.db.transaction() as s:
        for row in s.scalars(select(ReportSignals)):
            word = screening.in_force(s, row.report_id)
            effective = apply_overrides(TriageSignals.model_validate(row.signals), word)
            notes = [f"a coordinator overrode {k} to {v}" for k, v in sorted(word.items())]
            placed.append(
                placement(effective, likely_invalid=likely_invalid_override(word), notes=notes)
            )
    placed.sort(key=Placement.key)
    return [(p.report_id, entry(p, i, len(placed)).why) for i, p in enumerate(placed, start=1)]


def _walk(client: TestClient, who: Member, limit: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        r = client.get(
            "/api/v1/triage/queue",
            headers=who.headers,
            params={"limit": limit, **({"cursor": cursor} if cursor else {})},
        )
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return items


def test_the_queue_in_sql_is_rank_order_on_every_page(
    client: TestClient, services: Services, people: dict[str, Member], populated: list[str]
) -> None:
    coordinator = people["coordinator"]
    got = _walk(client, coordinator, limit=5)
    assert [(i["report_id"], i["why"]) for i in got] == _expected(services)
    assert [i["position"] for i in got] == list(range(1, len(populated) + 1))
    assert {i["report_id"] for i in got} == set(populated)
    # An override moves a report, and the SQL order still is rank()'s.
    bottom = got[-1]["report_id"]
    r = client.post(
        f"/api/v1/reports/{bottom}/override",
        headers=coordinator.headers,
        json={"signal": "reproduced", "value": "true", "reason": "reproduced by hand"},
    )
    assert r.status_code == 201, r.text
    again = _walk(client, coordinator, limit=7)
    assert [(i["report_id"], i["why"]) for i in again] == _expected(services)
    assert again[-1]["report_id"] != bottom
    moved = next(i for i in again if i["report_id"] == bottom)
    assert moved["overrides"] == {"reproduced": "true"}
    assert "a coordinator overrode reproduced to true" in moved["why"]


def test_the_queue_holds_only_records_in_triage(
    client: TestClient, people: dict[str, Member], populated: list[str]
) -> None:
    coordinator = people["coordinator"]
    first = _walk(client, coordinator, limit=50)[0]
    r = client.post(
        f"/api/v1/vulns/{first['vuln_id']}/triage",
        headers=coordinator.headers,
        json={"status": "rejected"},
    )
    assert r.status_code == 200, r.text
    after = [i["report_id"] for i in _walk(client, coordinator, limit=50)]
    assert first["report_id"] not in after and len(after) == len(populated) - 1


def _audit_count(services: Services, tag: AuditTag | None = None) -> int:
    with services.db.transaction() as s:
        q = select(func.count()).select_from(AuditEvent)
        if tag is not None:
            q = q.where(AuditEvent.tag == tag.value)
        return s.scalar(q) or 0


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"signal": "grounded", "value": "grounded"}, "override_reason_required"),
        (
            {"signal": "grounded", "value": "grounded", "reason": "  \n "},
            "override_reason_required",
        ),
        ({"signal": "grounded", "value": "maybe", "reason": "x"}, "override_invalid"),
        ({"signal": "reproduced", "value": "perhaps", "reason": "x"}, "override_invalid"),
        ({"signal": "duplicate_of", "value": "a b", "reason": "x"}, "override_invalid"),
        ({"signal": "duplicate_of", "value": "CH-2026-99999", "reason": "x"}, "override_invalid"),
        ({"signal": "verdict", "value": "x", "reason": "x"}, "invalid_request"),
        ({"signal": "ssvc", "value": "defer", "reason": "x"}, "override_invalid"),
    ],
)
def test_an_override_without_a_reason_or_with_a_bad_value_is_refused(
    client: TestClient,
    services: Services,
    people: dict[str, Member],
    body: dict[str, str],
    code: str,
) -> None:
    report = submit(client, people["vendor"], title="A bug", description=INVENTED)
    before = _audit_count(services)
    r = client.post(
        f"/api/v1/reports/{report['id']}/override",
        headers=people["coordinator"].headers,
        json=body,
    )
    assert r.status_code == 422, r.text
    assert r.json()["code"] == code
    assert _audit_count(services) == before
    with services.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(SignalOverride)) == 0


def test_an_override_is_audited_kept_next_to_the_automatic_value_and_superseded(
    client: TestClient, services: Services, people: dict[str, Member]
) -> None:
    coordinator = people["coordinator"]
    report = submit(client, people["vendor"], title="A bug", description=INVENTED)
    _store(services, report["id"], INDEX, None)  # ungrounded: likely invalid
    url = f"/api/v1/reports/{report['id']}"
    first = client.get(url, headers=coordinator.headers).json()["triage"]
    assert first["likely_invalid"] and first["effective"]["grounded"] == "ungrounded"
    for value, reason in (
        ("grounded", "the function was renamed in 1.1"),
        ("ungrounded", "on reflection, it is not"),
    ):
        r = client.post(
            f"{url}/override",
            headers=coordinator.headers,
            json={"signal": "grounded", "value": value, "reason": reason},
        )
        assert r.status_code == 201, r.text
        assert r.json()["automatic"] == "ungrounded" and r.json()["reason"] == reason
    r = client.post(
        f"{url}/override",
        headers=coordinator.headers,
        json={"signal": "likely_invalid", "value": "false", "reason": "checked by hand"},
    )
    assert r.status_code == 201, r.text
    triage = client.get(url, headers=coordinator.headers).json()["triage"]
    assert [o["value"] for o in triage["overrides"]] == ["false", "ungrounded", "grounded"]
    assert triage["in_force"] == {"grounded": "ungrounded", "likely_invalid": "false"}
    # both kept: the automatic value is still in the signals
    assert triage["signals"]["grounded"]["value"] == "ungrounded"
    assert triage["effective"]["grounded"] == "ungrounded"
    assert not triage["likely_invalid"] and triage["tier_name"] == "needs review"
    events = _audit_count(services, AuditTag.VULNS_REPORT_OVERRIDE)
    assert events == 3
    with services.db.transaction() as s:
        last = s.scalars(
            select(AuditEvent)
            .where(AuditEvent.tag == AuditTag.VULNS_REPORT_OVERRIDE.value)
            .order_by(AuditEvent.seq.desc())
        ).first()
        assert last is not None and last.data["reason"] == "checked by hand"
        assert last.subject_id == report["id"] and last.actor_user_id == coordinator.user_id
    # The reporter sees neither the signals nor the overrides.
    assert client.get(url, headers=people["vendor"].headers).json()["triage"] is None


def test_the_spot_check_sample_is_the_audit_sample_and_a_check_takes_a_report_out(
    client: TestClient, services: Services, people: dict[str, Member]
) -> None:
    coordinator = people["coordinator"]
    invented = []
    for n in range(6):
        report = submit(client, people["vendor"], title=f"slop {n}", description=INVENTED)
        _store(services, report["id"], INDEX, None)
        invented.append(report["id"])
    genuine = submit(client, people["vendor"], title="real", description=GOOD)
    _store(services, genuine["id"], INDEX, None)

    def picks(share: float, **params: Any) -> list[dict[str, Any]]:
        services.settings.triage_audit_share = share
        r = client.get("/api/v1/triage/spot-checks", headers=coordinator.headers, params=params)
        assert r.status_code == 200, r.text
        return list(r.json())

    everything = picks(1.0)
    assert {p["report_id"] for p in everything} == set(invented)  # never the genuine one
    assert not picks(0.0)
    # The picks at 30% are exactly queue.audit_sample's over the queue, with the instance salt.
    queue = _walk(client, coordinator, limit=50)
    sampling = screening.AuditSampling.for_settings(services.settings)
    from clearinghouse.vulns.signals.queue import QueueEntry

    entries = [
        QueueEntry(
            report_id=i["report_id"],
            position=i["position"],
            tier=i["tier"],
            tier_name=i["tier_name"],
            likely_invalid=i["likely_invalid"],
            ssvc=i["ssvc"],
            why=i["why"],
        )
        for i in queue
    ]
    want = [p.report_id for p in audit_sample(entries, 0.3, salt=sampling.salt)]
    assert [p["report_id"] for p in picks(0.3)] == want and want
    # The salt is the instance's, not a guessable constant.
    assert sampling.salt != "" and sampling.salt != hashlib.sha256(b"").hexdigest()
    # A coordinator's word on "likely invalid" takes the report out of the sample.
    checked = everything[0]["report_id"]
    r = client.post(
        f"/api/v1/reports/{checked}/override",
        headers=coordinator.headers,
        json={"signal": "likely_invalid", "value": "true", "reason": "confirmed: invented"},
    )
    assert r.status_code == 201
    assert checked not in {p["report_id"] for p in picks(1.0)}
    shown = {p["report_id"]: p for p in picks(1.0, include_checked="true")}
    assert shown[checked]["checked"] and shown[checked]["overrides"] == {"likely_invalid": "true"}


def test_a_dedup_scan_makes_the_duplicate_signal_known(
    client: TestClient, services: Services, people: dict[str, Member]
) -> None:
    coordinator = people["coordinator"]
    first = submit_corpus(client, people["vendor"], "g01-records-off-by-one")
    second = submit_corpus(client, people["lab"], "g01-records-off-by-one", model="model-z")
    shown = client.get(f"/api/v1/reports/{second['id']}", headers=coordinator.headers).json()
    assert shown["triage"]["signals"]["duplicate_of"]["known"] is False
    Worker(services).run(until_idle=True)  # the dedup scans queued at intake
    shown = client.get(f"/api/v1/reports/{second['id']}", headers=coordinator.headers).json()
    duplicate = shown["triage"]["signals"]["duplicate_of"]
    assert duplicate["known"] and duplicate["value"] == first["vuln_id"], duplicate
    assert shown["triage"]["tier_name"] == "duplicate"
    earlier = client.get(f"/api/v1/reports/{first['id']}", headers=coordinator.headers).json()
    assert earlier["triage"]["signals"]["duplicate_of"] == {
        "known": True,
        "value": None,
        "candidates": [],
        "evidence": ["no alias, signature or text match"],
    }


def test_a_report_is_grounded_at_intake_against_the_kept_tree_of_its_target(
    client: TestClient, services: Services, people: dict[str, Member]
) -> None:
    """The tree of an earlier validation of the same target (kept, content-addressed) grounds
    a new report before it carries any recipe; a tampered kept tree is not used."""
    digest = tree_digest(TREE)
    SourceTrees.for_settings(services.settings).keep(TREE, digest)
    genuine = submit_corpus(client, people["vendor"], "g01-records-off-by-one")
    with services.db.transaction() as s:
        s.add(
            Validation(
                id=new_id("val"),
                report_id=genuine["id"],
                vuln_id=genuine["vuln_id"],
                state="done",
                verdict="reproduced",
                evidence="",
                recipe_blob_id=services.blobs.put(
                    s, b"x", media_type="application/octet-stream", purpose="test"
                ).id,
                recipe_filename="recipe.tar.gz",
                recipe_sha256="0" * 64,
                source_tree_sha256=digest,
                source_ref="vulnerable",
                created_at=utcnow(),
                finished_at=utcnow(),
            )
        )
    coordinator = people["coordinator"]
    invented = submit_corpus(client, people["vendor"], "i01-records-parse-header")
    triage = client.get(f"/api/v1/reports/{invented['id']}", headers=coordinator.headers).json()[
        "triage"
    ]
    assert triage["effective"]["grounded"] == "ungrounded" and triage["likely_invalid"]
    assert "parse_header()" in triage["why"]
    # Another target: nothing to check against.
    elsewhere = submit_corpus(
        client, people["vendor"], "i01-records-parse-header", target="pkg:generic/other@1.0"
    )
    triage = client.get(f"/api/v1/reports/{elsewhere['id']}", headers=coordinator.headers).json()[
        "triage"
    ]
    assert triage["effective"]["grounded"] is None
    # A kept tree altered on disk is not used (nor its cached index, in a fresh process).
    kept = services.settings.var_dir / "cache" / "trees" / digest / "tree" / "records.c"
    kept.write_text(kept.read_text() + "\nint parse_header(void) { return 0; }\n")
    from clearinghouse.vulns import source_trees

    source_trees._INDEXES.clear()
    again = submit_corpus(client, people["vendor"], "i01-records-parse-header")
    triage = client.get(f"/api/v1/reports/{again['id']}", headers=coordinator.headers).json()[
        "triage"
    ]
    assert triage["effective"]["grounded"] is None


def test_signals_are_computed_for_a_report_filed_before_they_existed(
    client: TestClient, services: Services, people: dict[str, Member]
) -> None:
    report = submit(client, people["vendor"], title="A bug", description=GOOD)
    with services.db.transaction() as s:
        row = s.get(ReportSignals, report["id"])
        assert row is not None
        s.delete(row)
    # The queue gives it its signals (as at intake) and ranks it.
    assert any(
        i["report_id"] == report["id"] for i in _walk(client, people["coordinator"], limit=10)
    )
    with services.db.transaction() as s:
        s.delete(s.get(ReportSignals, report["id"]))
    # So does reading the report.
    shown = client.get(f"/api/v1/reports/{report['id']}", headers=people["coordinator"].headers)
    assert shown.status_code == 200 and shown.json()["triage"]["stage"] == "intake"


def test_the_queue_refuses_a_forged_cursor(client: TestClient, people: dict[str, Member]) -> None:
    for cursor in ("not-base64!", "eDox", "cTotMQ", "cTp4"):  # x:1, q:-1, q:x
        r = client.get(
            "/api/v1/triage/queue",
            headers=people["coordinator"].headers,
            params={"cursor": cursor},
        )
        assert r.status_code == 422 and r.json()["code"] == "cursor_invalid", (cursor, r.text)
