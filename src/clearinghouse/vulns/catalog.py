"""The reference catalogs records point into: MITRE's CWE list and CISA's KEV catalog.

`CWE_PATTERN` is the one definition of a CWE id (`CWE-79`): record parsing, report claims,
list filters and the HTTP query parameter all use it. Real ids have at most four digits; six
leave room and keep the number a small integer.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearinghouse.vulns.models import CweEntry, KevEntry, VulnerabilityAlias

CWE_PATTERN = r"CWE-[1-9][0-9]{0,5}"
_CWE_ID = re.compile(CWE_PATTERN)


def is_cwe_id(text: object) -> bool:
    return isinstance(text, str) and _CWE_ID.fullmatch(text) is not None


def cwe_ids_of(doc: dict[str, Any]) -> list[str]:
    """CWE ids a record names (`database_specific.cwe_ids`, as GHSA and our converters write)."""
    raw = (doc.get("database_specific") or {}).get("cwe_ids")
    if not raw:
        return []
    return sorted({c for c in raw if is_cwe_id(c)})


def cwe_names(session: Session, cwe_ids: list[str]) -> dict[str, str]:
    """CWE id → its name in the loaded CWE list (ids the list does not hold are left out)."""
    numbers = [int(c[4:]) for c in cwe_ids if is_cwe_id(c)]
    return {
        f"CWE-{c.id}": c.name
        for c in session.scalars(select(CweEntry).where(CweEntry.id.in_(numbers)))
    }


def kev_flags(session: Session, vuln_ids: list[str]) -> dict[str, list[KevEntry]]:
    """record id → the KEV entries of its CVE aliases (records with none are left out)."""
    rows = session.execute(
        select(VulnerabilityAlias.vuln_id, KevEntry)
        .join(KevEntry, KevEntry.cve_id == VulnerabilityAlias.alias)
        .where(VulnerabilityAlias.vuln_id.in_(vuln_ids))
    )
    out: dict[str, list[KevEntry]] = {}
    for vuln_id, entry in rows:
        out.setdefault(vuln_id, []).append(entry)
    return out
