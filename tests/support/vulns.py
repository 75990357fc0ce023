"""Helpers shared by the vulns tests: records and files to import, report bodies, golden
documents, row counts."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from clearinghouse.audit.models import AuditEvent
from clearinghouse.container import Services
from tests.support.world import Member

POC = b"\x00\x01AAAA%n%n%n-crash-me-please"


def report_body(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Out-of-bounds write in tinyparse header reader",
        "description": "A length-prefixed header field is copied into a 64-byte heap buffer "
        "without a bounds check; a crafted file overflows it.",
        "provenance": {"kind": "ai_model", "model_name": "model-x", "model_version": "3"},
        "target": {"purl": "pkg:pypi/tinyparse@2.4.0"},
        "claimed_cwe": "CWE-787",
        "claimed_cvss": "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H",
        "poc": {"filename": "crash.bin", "content_base64": base64.b64encode(POC).decode()},
    }
    return body | over


def audit_count(services: Services) -> int:
    with services.db.transaction() as s:
        return int(s.scalar(select(func.count()).select_from(AuditEvent)) or 0)


def submit(client: TestClient, who: Member, **over: Any) -> dict[str, Any]:
    r = client.post("/api/v1/reports", json=report_body(**over), headers=who.headers)
    assert r.status_code == 201, r.text
    return r.json()


def record(
    rid: str,
    *,
    modified: str = "2026-01-01T00:00:00Z",
    name: str = "demo",
    fixed: str = "2.0",
    aliases: list[str] | None = None,
) -> dict:
    return {
        "id": rid,
        "modified": modified,
        "aliases": aliases or [],
        "summary": f"{rid} summary",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": name, "purl": f"pkg:pypi/{name}"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}
                ],
            }
        ],
    }


def write_jsonl(path: Path, records: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


def count(services: Services, model: type) -> int:
    with services.db.transaction() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


GOLDEN = Path(__file__).parents[1] / "golden" / "vulns"


CWE_NAMES = {"CWE-416": "Use After Free"}


def golden(name: str) -> dict:
    return json.loads((GOLDEN / name).read_text())


def csaf20_valid(doc: dict) -> bool:
    from csaf.csaf.v20._validator import validate

    return bool(validate(doc, preset="basic").overall_valid)


def affected_key(record: dict) -> list:
    return sorted(
        (
            a["package"]["ecosystem"],
            a["package"]["name"],
            json.dumps(a.get("ranges", []), sort_keys=True),
            sorted(a.get("versions", [])),
        )
        for a in record["affected"]
    )
