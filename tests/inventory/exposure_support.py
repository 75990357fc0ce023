"""Helpers of the exposure tests: records imported through the real upsert, an SBOM's
components, and exposure rows built by hand with chosen values (for the listing and metrics)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearinghouse.core.clock import utcnow
from clearinghouse.core.ids import new_id
from clearinghouse.inventory import ssvc as ssvc_tree
from clearinghouse.inventory.models import Asset, Component, Exposure, ExposureEvent, Sbom
from clearinghouse.vulns.models import KevEntry, Vulnerability
from clearinghouse.vulns.osv import canonical
from clearinghouse.vulns.records import upsert


def osv_doc(
    rid: str,
    name: str = "tinyparse",
    fixed: str = "2.0",
    *,
    aliases: tuple[str, ...] = (),
    vector: str | None = None,
    details: str = "",
    **extra: Any,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": rid,
        "modified": "2026-01-01T00:00:00Z",
        "aliases": list(aliases),
        "details": details,
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": name},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}
                ],
            }
        ],
        **extra,
    }
    if vector:
        doc["severity"] = [{"type": "CVSS_V4" if "4.0" in vector else "CVSS_V3", "score": vector}]
    return doc


LOG4SHELL_KEV_DUE = date(2021, 12, 24)


def kev_listed(s: Session, cve_id: str = "CVE-2021-44228") -> None:
    """A CISA KEV entry for `cve_id` (Log4Shell's dates: added 2021-12-10, due 2021-12-24)."""
    s.add(
        KevEntry(
            cve_id=cve_id,
            date_added=date(2021, 12, 10),
            due_date=LOG4SHELL_KEV_DUE,
            digest="0" * 64,
        )
    )


def import_record(s: Session, doc: dict[str, Any]) -> str:
    upsert(s, canonical(doc))
    vuln_id = s.scalar(select(Vulnerability.id).where(Vulnerability.source_id == doc["id"]))
    assert vuln_id is not None
    return vuln_id


def component(s: Session, asset_id: str, purl: str = "pkg:pypi/tinyparse@1.5") -> str:
    """A current SBOM with one component (hand-built rows)."""
    now = utcnow()
    seq = len(list(s.scalars(select(Sbom.id).where(Sbom.asset_id == asset_id)))) + 1
    sbom = Sbom(
        id=new_id("sbm"),
        asset_id=asset_id,
        seq=seq,
        format="cyclonedx",
        spec_version="1.5",
        media="json",
        sha256="0" * 64,
        component_count=1,
        unmatched_count=0,
        uploaded_at=now,
        uploaded_by=None,
        superseded_at=None,
        diff={},
    )
    s.add(sbom)
    s.flush()
    name, version = purl.removeprefix("pkg:pypi/").split("@")
    c = Component(
        id=new_id("cmp"),
        sbom_id=sbom.id,
        asset_id=asset_id,
        purl=purl,
        ecosystem="PyPI",
        name=name,
        version=version,
        bom_ref="r0",
        unmatched_reason=None,
    )
    s.add(c)
    s.flush()
    return c.id


def exposure(
    s: Session,
    asset_id: str,
    vuln_id: str,
    *,
    severity: str = "high",
    ssvc: str | None = None,
    due_at: datetime | None = None,
    status: str = "open",
    kev: bool = False,
    opened_at: datetime | None = None,
    detail: str = "full",
    purl: str | None = None,
) -> str:
    """One exposure row with the given values (and its component), as matching would write."""
    asset = s.get(Asset, asset_id)
    assert asset is not None
    cid = component(s, asset_id, purl or f"pkg:pypi/tinyparse@1.{new_id('v')[-6:]}")
    now = opened_at or utcnow()
    e = Exposure(
        id=new_id("exp"),
        asset_id=asset_id,
        org_id=asset.org_id,
        component_id=cid,
        vuln_id=vuln_id,
        purl=purl or "pkg:pypi/tinyparse@1.5",
        version="1.5",
        severity=severity,
        cvss_score=None,
        kev=kev,
        epss=None,
        fixed_in="2.0",
        ssvc=ssvc,
        ssvc_rank=ssvc_tree.rank(ssvc),
        ssvc_inputs=None,
        due_at=due_at,
        status=status,
        justification=None,
        detail=detail,
        opened_at=now,
        closed_at=None,
        updated_at=now,
    )
    s.add(e)
    s.add(
        ExposureEvent(
            id=new_id("xev"),
            exposure_id=e.id,
            at=now,
            actor="system",
            from_status=None,
            to_status="open",
            note="matched",
            evidence={},
        )
    )
    s.flush()
    return e.id
