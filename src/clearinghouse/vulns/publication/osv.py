"""OSV 1.7 JSON (osv-scanner, pip-audit, Dependency-Track's OSV mirror)."""

from __future__ import annotations

from typing import Any


def to_osv(record: dict[str, Any]) -> dict[str, Any]:
    return {"schema_version": "1.7.0", **record}
