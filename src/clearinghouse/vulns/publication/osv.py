"""OSV 1.7 JSON (osv-scanner, pip-audit, Dependency-Track's OSV mirror)."""

from __future__ import annotations

from typing import Any

from clearinghouse.vulns.osv import osv_id

SCHEMA_VERSION = "1.7.0"


def to_osv(record: dict[str, Any]) -> dict[str, Any]:
    """A stored record as served and exported: the schema version, and an id the OSV schema's
    pattern admits (ours carry its `x_` prefix for unregistered databases, `vulns.osv.osv_id`)."""
    return {"schema_version": SCHEMA_VERSION, **record, "id": osv_id(record["id"])}
