"""MITRE's CWE list (the CSV that cwe.mitre.org publishes) → `cwe_entries`."""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import select

from clearinghouse.accounts.policy import Action, Principal, authorize
from clearinghouse.audit import trail as audit
from clearinghouse.core.errors import InvalidInput
from clearinghouse.core.events import AuditTag
from clearinghouse.storage.db import Database
from clearinghouse.vulns.intake.common import ImportResult
from clearinghouse.vulns.models import CweEntry


def import_cwe(db: Database, p: Principal, path: Path) -> ImportResult:
    """Load MITRE's CWE list (the CSV that cwe.mitre.org publishes) into `cwe_entries`, in one
    transaction with its audit event. Coordinators only (`vuln:import`)."""
    authorize(p, Action.vuln_import)
    result = ImportResult()
    with path.open(encoding="utf-8", newline="") as fh, db.transaction() as session:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "CWE-ID" not in reader.fieldnames:
            raise InvalidInput(f"{path.name} is not a CWE CSV (no CWE-ID column)", code="cwe_csv")
        existing = {c.id: c for c in session.scalars(select(CweEntry))}
        for n, row in enumerate(reader, 2):
            try:
                cwe_id = int(row["CWE-ID"])
            except (TypeError, ValueError):
                result.rejected.append({"source": f"{path.name}:{n}", "reason": "bad CWE-ID"})
                continue
            values = {
                "name": row.get("Name", "")[:400],
                "abstraction": row.get("Weakness Abstraction", "")[:20],
                "status": row.get("Status", "")[:20],
            }
            entry = existing.get(cwe_id)
            if entry is None:
                session.add(CweEntry(id=cwe_id, **values))
                result.created += 1
            elif {k: getattr(entry, k) for k in values} == values:
                result.unchanged += 1
            else:
                for k, v in values.items():
                    setattr(entry, k, v)
                result.updated += 1
        audit.record(
            session,
            AuditTag.VULNS_CWE_IMPORT,
            actor=p.actor,
            subject_type="import",
            subject_id=None,
            data={"file": path.name[:200], **result.as_dict(), "rejected": len(result.rejected)},
        )
    return result
