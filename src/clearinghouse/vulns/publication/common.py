"""What the publication formats share: our namespace, the publisher, and readers of an OSV
record (its CVE, CWEs and affected intervals)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

NAMESPACE = uuid.UUID("5d6c3b8e-3f0e-4b8e-9a53-6c1e0d0c7a11")  # our STIX / CVE org namespace
PUBLISHER = {
    "category": "coordinator",
    "name": "AI Cyber Clearinghouse",
    "namespace": "https://clearinghouse.example.org",
}


def iso(ts: str | None) -> str | None:
    return ts.replace("Z", "+00:00") if ts else None


def cve_of(record: dict[str, Any]) -> str | None:
    for alias in [record["id"], *record.get("aliases", [])]:
        if alias.startswith("CVE-"):
            return str(alias)
    return None


def cwes_of(record: dict[str, Any]) -> list[str]:
    return list((record.get("database_specific") or {}).get("cwe_ids") or [])


def intervals(aff: dict[str, Any]) -> Iterator[tuple[str, str | None, str | None]]:
    """(introduced, fixed, last_affected) per affected interval of an OSV affected entry."""
    for rng in aff.get("ranges") or []:
        if rng.get("type") == "GIT":
            continue
        introduced = None
        for event in rng.get("events", []):
            (kind, value), *_ = event.items()
            if kind == "introduced":
                if introduced is not None:
                    yield introduced, None, None
                introduced = value
            elif kind in ("fixed", "last_affected") and introduced is not None:
                yield (
                    introduced,
                    value if kind == "fixed" else None,
                    value if kind == "last_affected" else None,
                )
                introduced = None
        if introduced is not None:
            yield introduced, None, None


def vers_range(eco: str, introduced: str, fixed: str | None, last: str | None) -> str:
    """One affected interval as a purl `vers:` range (VEX products, STIX relationships)."""
    from clearinghouse.vulns.purls import ECOSYSTEM_PURL_TYPES

    kind = ECOSYSTEM_PURL_TYPES.get(eco, "generic")
    parts = [] if introduced in ("0", "") else [f">={introduced}"]
    if fixed:
        parts.append(f"<{fixed}")
    elif last:
        parts.append(f"<={last}")
    return f"vers:{kind}/" + ("|".join(parts) if parts else "*")
