"""CISA's Known Exploited Vulnerabilities catalog: entries (not records) keyed by CVE, which
enrich records through their CVE aliases."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from clearinghouse.accounts.policy import Action, Principal, authorize
from clearinghouse.audit import trail as audit
from clearinghouse.core.errors import ClearinghouseError
from clearinghouse.core.events import AuditTag
from clearinghouse.storage.db import Database
from clearinghouse.vulns.catalog import is_cwe_id
from clearinghouse.vulns.errors import FormatError
from clearinghouse.vulns.intake.common import ImportResult, rejection_reason
from clearinghouse.vulns.intake.files import read_records
from clearinghouse.vulns.models import KevEntry


def kev_entry(raw: Any) -> dict[str, Any]:
    """One KEV catalog entry, checked and normalised (raises FormatError)."""
    if not isinstance(raw, dict):
        raise FormatError("a KEV entry must be an object")
    cve = raw.get("cveID")
    if not isinstance(cve, str) or not re.fullmatch(r"CVE-\d{4}-\d{4,19}", cve):
        raise FormatError(f"cveID must be a CVE id, got {cve!r}")
    try:
        added = date.fromisoformat(raw["dateAdded"])
        due = date.fromisoformat(raw["dueDate"]) if raw.get("dueDate") else None
    except (KeyError, TypeError, ValueError) as exc:
        raise FormatError(f"{cve}: dateAdded/dueDate must be YYYY-MM-DD ({exc})") from None
    ransomware = raw.get("knownRansomwareCampaignUse", "Unknown")
    if ransomware not in ("Known", "Unknown"):
        raise FormatError(f"{cve}: knownRansomwareCampaignUse must be Known or Unknown")
    cwes = [c for c in raw.get("cwes") or [] if is_cwe_id(c)]
    entry = {
        "cve_id": cve,
        "vendor": str(raw.get("vendorProject", ""))[:200],
        "product": str(raw.get("product", ""))[:200],
        "name": str(raw.get("vulnerabilityName", "")),
        "date_added": added,
        "due_date": due,
        "ransomware": ransomware,
        "required_action": str(raw.get("requiredAction", "")),
        "cwes": cwes,
    }
    canonical = json.dumps(entry, default=str, sort_keys=True)
    entry["digest"] = hashlib.sha256(canonical.encode()).hexdigest()
    return entry


def import_kev(
    db: Database,
    p: Principal,
    path: Path,
    on_record: Callable[[ImportResult], None] | None = None,
) -> ImportResult:
    """Import CISA's KEV catalog (its JSON feed). Entries are keyed by CVE; an entry whose
    content is unchanged is counted as such. Coordinators only (`vuln:import`)."""
    authorize(p, Action.vuln_import)
    result = ImportResult()
    for item in read_records(path):
        if item.error is not None:
            result.rejected.append({"source": item.source, "reason": item.error})
            continue
        entries = item.data.get("vulnerabilities") if isinstance(item.data, dict) else None
        if not isinstance(entries, list):
            result.rejected.append(
                {"source": item.source, "reason": "not a KEV catalog: no vulnerabilities list"}
            )
            continue
        seen: set[str] = set()
        rejected_before = len(result.rejected)
        for n, raw in enumerate(entries):
            source = f"{item.source}#vulnerabilities[{n}]"
            try:
                entry = kev_entry(raw)
                seen.add(entry["cve_id"])
                with db.transaction() as session:
                    existing = session.get(KevEntry, entry["cve_id"], with_for_update=True)
                    if existing is None:
                        session.add(KevEntry(**entry))
                        outcome = "created"
                    elif existing.digest == entry["digest"]:
                        outcome = "unchanged"
                    else:
                        for key, value in entry.items():
                            setattr(existing, key, value)
                        outcome = "updated"
                    if outcome != "unchanged":
                        audit.record(
                            session,
                            AuditTag.VULNS_KEV_CREATE
                            if outcome == "created"
                            else AuditTag.VULNS_KEV_UPDATE,
                            actor=p.actor,
                            subject_type="kev_entry",
                            subject_id=entry["cve_id"],
                            data={"file": path.name[:200]},
                        )
            except (FormatError, ClearinghouseError) as exc:
                result.rejected.append({"source": source, "reason": rejection_reason(exc)})
                continue
            setattr(result, outcome, getattr(result, outcome) + 1)
            if on_record is not None:
                on_record(result)
        if _whole_catalog(item.data, entries) and len(result.rejected) == rejected_before:
            result.removed += _retire(db, p, seen, path)
    return result


def _whole_catalog(data: Any, entries: list[Any]) -> bool:
    """CISA's feed is the whole catalog each time: it names its version and its count. A file
    that does both, with that many entries, says what is no longer listed; any other file
    (a hand-made extract, a truncated download) only adds."""
    if not isinstance(data, dict):
        return False
    count = data.get("count")
    return (
        isinstance(data.get("catalogVersion"), str)
        and isinstance(count, int)
        and not isinstance(count, bool)
        and count == len(entries)
    )


def _retire(db: Database, p: Principal, listed: set[str], path: Path) -> int:
    """Remove the entries a whole catalog no longer lists (CISA removes an entry that was
    listed in error), each with its audit event; the inventory's periodic sync then
    reprioritises the exposures that carried their KEV flag."""
    with db.transaction() as session:
        gone = [
            e for e in session.scalars(select(KevEntry).with_for_update()) if e.cve_id not in listed
        ]
        for entry in gone:
            session.delete(entry)
            audit.record(
                session,
                AuditTag.VULNS_KEV_DELETE,
                actor=p.actor,
                subject_type="kev_entry",
                subject_id=entry.cve_id,
                data={"file": path.name[:200], "reason": "no longer in the catalog"},
            )
    return len(gone)
