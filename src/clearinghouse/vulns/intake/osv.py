"""Importing a file of records (OSV, or CSAF / CVE 5 converted to OSV): parse, validate,
canonicalise, and store in batches, each batch one transaction with its audit event."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from clearinghouse.accounts.policy import Action, Principal, authorize
from clearinghouse.audit import trail as audit
from clearinghouse.core.errors import ClearinghouseError, InvalidInput
from clearinghouse.core.events import AuditTag
from clearinghouse.core.memory import collector_paused
from clearinghouse.storage.db import Database
from clearinghouse.vulns.conventions import normalise_record
from clearinghouse.vulns.errors import FormatError
from clearinghouse.vulns.intake import csaf, cve5
from clearinghouse.vulns.intake.common import ImportResult, rejection_reason
from clearinghouse.vulns.intake.files import read_records
from clearinghouse.vulns.intake.kev import import_kev
from clearinghouse.vulns.osv import canonical
from clearinghouse.vulns.quality.findings import record_findings
from clearinghouse.vulns.quality.rules import SCHEMA_REFUSAL
from clearinghouse.vulns.records import upsert, upsert_batch

FORMATS = ("osv", "kev", "csaf", "cve5")
IMPORT_BATCH = 500


def _records(item: Any, fmt: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(source, OSV-shaped record) pairs of one parsed document, validated for its format."""
    if fmt == "osv":
        yield item.source, item.data
        return
    if not isinstance(item.data, dict):
        raise FormatError("the document must be a JSON object")
    if fmt == "csaf":
        csaf.validate_csaf(item.data)
        for n, rec in enumerate(csaf.csaf_records(item.data)):
            yield f"{item.source}#vulnerabilities[{n}]", rec
    elif fmt == "cve5":
        cve5.validate_cve5(item.data)
        yield item.source, cve5.cve5_record(item.data)


def _canonical_records(path: Path, fmt: str) -> Iterator[tuple[str, dict[str, Any] | None, str]]:
    """(source, canonical OSV document, "") for each valid record of a file, and (source,
    None, reason) for each refused one: the parsing and validation half of an import."""
    for item in read_records(path):
        if item.error is not None:
            yield item.source, None, item.error
            continue
        try:
            pairs = list(_records(item, fmt))
        except (FormatError, ValidationError, ClearinghouseError) as exc:
            yield item.source, None, rejection_reason(exc)
            continue
        for source, data in pairs:
            try:
                yield source, normalise_record(canonical(data)), ""
            except (ValidationError, ClearinghouseError) as exc:
                # The quality gate's one refusal: the record breaks the OSV schema.
                yield source, None, f"{SCHEMA_REFUSAL}: {rejection_reason(exc)}"


def _audit_import(
    session: Session, p: Principal, path: Path, fmt: str, outcomes: list[str]
) -> None:
    """The audit event of one import transaction: who imported how many records from what."""
    audit.record(
        session,
        AuditTag.VULNS_RECORDS_IMPORT,
        actor=p.actor,
        subject_type="import",
        subject_id=None,
        data={
            "file": path.name[:200],
            "format": fmt,
            **{k: outcomes.count(k) for k in ("created", "updated", "unchanged")},
        },
    )


def import_file(
    db: Database,
    p: Principal,
    path: Path,
    on_record: Callable[[ImportResult], None] | None = None,
    *,
    fmt: str = "osv",
) -> ImportResult:
    """Import every record of a file, IMPORT_BATCH records per transaction (one per record if
    the database refuses a batch), each with its audit event. A malformed record (or, for
    CSAF and CVE 5, a document that fails its format's validation) is reported with its reason
    and skipped; it never leaves anything behind. Coordinators only (`vuln:import`)."""
    authorize(p, Action.vuln_import)
    if fmt not in FORMATS:
        raise InvalidInput(
            f"unknown format {fmt!r}; one of {', '.join(FORMATS)}", code="format_unsupported"
        )
    if fmt == "kev":
        return import_kev(db, p, path, on_record)
    result = ImportResult()
    pending: list[tuple[str, dict[str, Any]]] = []

    def count(outcome: str) -> None:
        setattr(result, outcome, getattr(result, outcome) + 1)

    def store() -> None:
        """One transaction for the batch. Should the database refuse it (a constraint we did
        not foresee), fall back to one transaction per record, so only the bad one is lost."""
        try:
            with db.transaction() as session:
                outcomes = upsert_batch(session, [d for _, d in pending], origin=fmt)
                record_findings(session, [d["id"] for _, d in pending], origin=fmt)
                _audit_import(session, p, path, fmt, outcomes)
        except SQLAlchemyError:
            outcomes = []
            for source, doc in pending:
                try:
                    with db.transaction() as session:
                        outcome = upsert(session, doc, origin=fmt)
                        record_findings(session, [doc["id"]], origin=fmt)
                        _audit_import(session, p, path, fmt, [outcome])
                    outcomes.append(outcome)
                except (SQLAlchemyError, ClearinghouseError) as exc:
                    result.rejected.append({"source": source, "reason": rejection_reason(exc)})
        for outcome in outcomes:
            count(outcome)
        pending.clear()
        if on_record is not None:
            on_record(result)

    # The collector would walk every live object again and again as batches are built and
    # dropped (a fifth of an import's time); what an import allocates is freed by reference
    # counting, and it makes no cycles that matter.
    with collector_paused():
        for source, doc, reason in _canonical_records(path, fmt):
            if doc is None:
                refusal = reason.startswith(SCHEMA_REFUSAL)
                result.rejected.append(
                    {"source": source, "reason": reason}
                    | ({"code": SCHEMA_REFUSAL} if refusal else {})
                )
                continue
            pending.append((source, doc))
            if len(pending) >= IMPORT_BATCH:
                store()
        if pending:
            store()
    return result
