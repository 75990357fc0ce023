"""OSV import: idempotent, transactional imports that refuse bad records with reasons; zip and
gzip inputs and zip bombs."""

from __future__ import annotations

import functools
import gzip
import json
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from clearinghouse.accounts.policy import Principal
from clearinghouse.container import Services
from clearinghouse.vulns.intake.osv import import_file
from clearinghouse.vulns.models import Vulnerability, VulnerabilityAlias
from tests.support.vulns import (
    count,
    record,
    write_jsonl,
)


def test_import_is_idempotent_and_updates_only_newer(services: Services, tmp_path: Path) -> None:
    f = write_jsonl(
        tmp_path / "a.jsonl", [record("PYSEC-1", aliases=["CVE-2026-1"]), record("PYSEC-2")]
    )
    assert import_file(services.db, Principal.system(), f).as_dict() == {
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "rejected": [],
    }
    assert import_file(services.db, Principal.system(), f).as_dict() == {
        "created": 0,
        "updated": 0,
        "unchanged": 2,
        "rejected": [],
    }
    newer = write_jsonl(
        tmp_path / "b.jsonl",
        [
            record("PYSEC-1", modified="2026-02-01T00:00:00Z", fixed="3.0"),
            record("PYSEC-2", modified="2025-01-01T00:00:00Z", fixed="9.9"),
        ],
    )
    assert import_file(services.db, Principal.system(), newer).as_dict() == {
        "created": 0,
        "updated": 1,
        "unchanged": 1,
        "rejected": [],
    }
    with services.db.transaction() as s:
        v = s.scalars(select(Vulnerability).where(Vulnerability.source_id == "PYSEC-1")).one()
        assert v.id.startswith("CH-2026-") and v.record["affected"][0]["ranges"][0]["events"][
            1
        ] == {"fixed": "3.0"}


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"modified": "2026-01-01T00:00:00Z"}, "id"),
        ({"id": "X-1", "modified": "yesterday"}, "modified"),
        # the timestamp's shape, but no such day: it once aborted the whole import
        ({"id": "X-1", "modified": "2026-02-30T00:00:00Z"}, "modified"),
        (
            {"id": "X-1", "modified": "2026-01-01T00:00:00Z", "published": "0000-01-01T00:00:00Z"},
            "published",
        ),
        (
            {"id": "X-1", "modified": "2026-01-01T00:00:00Z", "withdrawn": "2026-01-01T25:00:00Z"},
            "withdrawn",
        ),
        (
            {
                "id": "X-1",
                "modified": "2026-01-01T00:00:00Z",
                "affected": [{"ranges": [{"type": "ECOSYSTEM", "events": [{"fixed": "1"}]}]}],
            },
            "introduced",
        ),
        (
            {
                "id": "X-1",
                "modified": "2026-01-01T00:00:00Z",
                "affected": [
                    {"ranges": [{"type": "SEMVER", "events": [{"introduced": "0", "fixed": "1"}]}]}
                ],
            },
            "exactly one",
        ),
        ({"id": "X-1", "modified": "2026-01-01T00:00:00Z", "summary": "nul\x00"}, "NUL"),
        # the OSV schema's enumerations
        (
            {
                "id": "X-1",
                "modified": "2026-01-01T00:00:00Z",
                "references": [{"type": "BLOG", "url": "https://example.org"}],
            },
            "references.0.type",
        ),
        (
            {
                "id": "X-1",
                "modified": "2026-01-01T00:00:00Z",
                "severity": [{"type": "CVSS_V5", "score": "x"}],
            },
            "severity.0.type",
        ),
        (
            {"id": "X-1", "modified": "2026-01-01T00:00:00Z", "credits": [{"type": "FINDER"}]},
            "name",
        ),
        ("{not json", "JSON"),
        (
            {
                "id": "X-1",
                "modified": "2026-01-01T00:00:00Z",
                # quotes in text once hid brackets from a scan of the JSON text
                "summary": 'a "quoted" word and a backslash \\',
                "database_specific": functools.reduce(
                    lambda inner, _: {"x": [inner]}, range(20), {}
                ),
            },
            "nests too deeply",
        ),
    ],
)
def test_malformed_records_are_rejected_with_a_reason_and_store_nothing(
    services: Services, tmp_path: Path, bad: object, reason: str
) -> None:
    f = write_jsonl(tmp_path / "bad.jsonl", [bad, record("GOOD-1")])
    result = import_file(services.db, Principal.system(), f)
    assert result.created == 1 and len(result.rejected) == 1
    assert result.rejected[0]["source"] == "bad.jsonl:1" and reason in result.rejected[0]["reason"]
    assert count(services, Vulnerability) == 1 and count(services, VulnerabilityAlias) == 2


@pytest.mark.parametrize(
    "when", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "0999-01-01T00:00:00Z"]
)
def test_csaf_and_cve5_timestamps_out_of_range_are_format_errors(when: str) -> None:
    """The CSAF and CVE 5 converters read their documents' times through `osv_timestamp`;
    a time that does not exist in UTC was an OverflowError that aborted the import."""
    from clearinghouse.vulns.errors import FormatError
    from clearinghouse.vulns.intake.common import osv_timestamp

    with pytest.raises(FormatError, match="in range"):
        osv_timestamp(when)
    assert osv_timestamp("2026-01-01T00:00:00-14:00") == "2026-01-01T14:00:00Z"


def test_zip_and_gzip_inputs_and_zip_bombs(services: Services, tmp_path: Path) -> None:
    z = tmp_path / "all.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("../../etc/evil.json", json.dumps(record("ZIP-1")))  # a path is never used
        archive.writestr("bomb.json", b"[" + b" " * (40 * 1024**2) + b"]")
        archive.writestr("notes.txt", "ignored")
    result = import_file(services.db, Principal.system(), z)
    assert result.created == 1 and "zip bomb" in result.rejected[0]["reason"]
    assert not Path("/etc/evil.json").exists()
    gz = tmp_path / "x.jsonl.gz"
    with gzip.open(gz, "wt") as fh:
        fh.write(json.dumps(record("GZ-1")) + "\n")
    assert import_file(services.db, Principal.system(), gz).created == 1


def _go_record(rid: str, **dates: str) -> dict:
    return {
        "id": rid,
        "modified": "0001-01-01T00:00:00Z",
        **dates,
        "database_specific": {"url": "https://pkg.go.dev/vuln/" + rid},
        "affected": [
            {
                "package": {"ecosystem": "Go", "name": "example.com/mod"},
                "ranges": [
                    {"type": "SEMVER", "events": [{"introduced": "v1.0.0"}, {"fixed": "v1.2.4"}]}
                ],
                "versions": ["v1.0.0", "v1.1.0"],
            }
        ],
    }


def test_go_versions_and_placeholder_dates_are_normalised_at_import(
    services: Services, tmp_path: Path, client: TestClient
) -> None:
    """osv.dev's Go records carry `0001-01-01` dates (which CVE 5 and CSAF validators refuse,
    and which gave our ids the year 1), and a Go version with a leading "v" is not in OSV's
    convention (SEMVER ranges have none)."""
    f = write_jsonl(
        tmp_path / "go.jsonl",
        [
            _go_record("GO-2026-0001", published="2024-05-06T07:08:09Z"),
            _go_record("GO-2026-0002", published="0001-01-01T00:00:00Z"),
        ],
    )
    assert import_file(services.db, Principal.system(), f).created == 2
    assert import_file(services.db, Principal.system(), f).unchanged == 2  # deterministic
    with services.db.transaction() as s:
        rows = {v.source_id: v for v in s.scalars(select(Vulnerability))}
        one, two = rows["GO-2026-0001"], rows["GO-2026-0002"]
        assert one.record["modified"] == "2024-05-06T07:08:09Z" and not one.id.startswith("CH-1-")
        assert one.record["database_specific"] == {
            "url": "https://pkg.go.dev/vuln/GO-2026-0001",
            "placeholder_dates": {"modified": "0001-01-01T00:00:00Z"},
        }
        assert "published" not in two.record and two.record["modified"] == "1970-01-01T00:00:00Z"
        assert two.record["database_specific"]["placeholder_dates"] == {
            "modified": "0001-01-01T00:00:00Z",
            "published": "0001-01-01T00:00:00Z",
        }
        aff = one.record["affected"][0]
        assert aff["ranges"][0]["events"] == [{"introduced": "1.0.0"}, {"fixed": "1.2.4"}]
        assert aff["versions"] == ["1.0.0", "1.1.0"]
    for version in ("1.1.0", "v1.1.0", "1.2.3", "v1.2.3"):
        q = {"package": {"ecosystem": "Go", "name": "example.com/mod"}, "version": version}
        ids = [v["id"] for v in client.post("/v1/query", json=q).json()["vulns"]]
        assert ids == ["GO-2026-0001", "GO-2026-0002"], version
    q = {"package": {"ecosystem": "Go", "name": "example.com/mod"}, "version": "1.2.4"}
    assert client.post("/v1/query", json=q).json() == {}
