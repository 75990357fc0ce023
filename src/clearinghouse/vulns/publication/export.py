"""Exporting: one record as a document of a format, and the public records for a dump."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearinghouse.accounts.policy import Action, Principal, Target, authorize
from clearinghouse.audit import trail as audit
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import InvalidInput
from clearinghouse.core.events import AuditTag
from clearinghouse.storage.db import Database
from clearinghouse.vulns.catalog import cwe_names
from clearinghouse.vulns.models import Vulnerability
from clearinghouse.vulns.publication.csaf import to_csaf
from clearinghouse.vulns.publication.cve5 import Cna, to_cve5
from clearinghouse.vulns.publication.osv import to_osv
from clearinghouse.vulns.publication.stix import to_stix
from clearinghouse.vulns.publication.vex import (
    to_csaf_vex,
    to_cyclonedx_vex,
    to_openvex,
    vex_subject,
)
from clearinghouse.vulns.visibility import is_public, load_vuln, public_clause

EXPORT_FORMATS = ("osv", "csaf", "csaf-2.1", "csaf-vex", "openvex", "cyclonedx-vex", "cve5", "stix")


def export_vuln(
    session: Session, p: Principal, vuln_id: str, fmt: str, *, cna: Cna | None = None
) -> dict[str, Any]:
    """One record as a document of `fmt` (osv, csaf (2.0), csaf-2.1, csaf-vex, openvex,
    cyclonedx-vex, cve5, stix); the id may be ours or any alias. Exporting a non-public record is allowed to
    whoever may read it, and the document carries its TLP label (CSAF, STIX). `cna`: our CNA
    identity (Settings), which decides between a CVE 5 CNA and ADP container."""
    if fmt not in EXPORT_FORMATS:
        raise InvalidInput(
            f"unknown export format {fmt!r}; one of {', '.join(EXPORT_FORMATS)}",
            code="format_unsupported",
        )
    vuln = load_vuln(session, p, vuln_id, Action.vuln_read)
    record = vuln.record
    audit.record(
        session,
        AuditTag.VULNS_VULN_EXPORT,
        actor=p.actor,
        subject_type="vuln",
        subject_id=vuln.id,
        data={"format": fmt, "public": is_public(vuln, utcnow())},
    )
    if fmt == "osv":
        return to_osv(record)
    names = cwe_names(session, vuln.cwe_ids)
    if fmt in ("csaf", "csaf-2.1"):
        return to_csaf(
            record, tlp=vuln.tlp, cwe_names=names, version="2.1" if fmt == "csaf-2.1" else "2.0"
        )
    if fmt in ("csaf-vex", "openvex", "cyclonedx-vex"):
        subject = vex_subject(record)  # the one status model behind every VEX format
        if fmt == "openvex":
            return to_openvex(subject)
        if fmt == "cyclonedx-vex":
            return to_cyclonedx_vex(subject)
        return to_csaf_vex(subject, to_csaf(record, tlp=vuln.tlp, cwe_names=names))
    if fmt == "cve5":
        return to_cve5(record, cna, names, native=vuln.origin == "report")
    return to_stix(record, tlp=vuln.tlp)


def public_records(db: Database, p: Principal, batch: int = 1000) -> Iterator[dict[str, Any]]:
    """Every record the public may see, in id order, read in batches (for dumps, in osv.dev's
    layout: public records only, whoever asks). The caller is authorised before the first
    record is read (not lazily, at the first iteration)."""
    authorize(p, Action.vuln_read, Target("vuln", None, public=True))
    return _public_records(db, batch)


def _public_records(db: Database, batch: int) -> Iterator[dict[str, Any]]:
    last = ""
    while True:
        with db.transaction() as session:
            rows = session.scalars(
                select(Vulnerability)
                .where(Vulnerability.id > last, public_clause(utcnow()))
                .order_by(Vulnerability.id)
                .limit(batch)
            ).all()
            docs = [(v.id, v.record) for v in rows]
        if not docs:
            return
        for _, doc in docs:
            yield doc
        last = docs[-1][0]
