"""KEV import: idempotent, flags records by CVE, refuses bad entries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clearinghouse.accounts.policy import Principal
from clearinghouse.container import Services
from clearinghouse.vulns.intake.osv import import_file
from clearinghouse.vulns.models import KevEntry
from clearinghouse.vulns.search import vuln_detail
from tests.conftest import shared_data_dir
from tests.support.vulns import (
    count,
    golden,
)


@pytest.mark.shared_data
def test_kev_import_is_idempotent_and_flags_records_by_cve(
    services: Services, tmp_path: Path
) -> None:
    kev = shared_data_dir() / "cisa-kev" / "known_exploited_vulnerabilities.json"
    first = import_file(services.db, Principal.system(), kev, fmt="kev")
    assert first.created == 1404 and first.rejected == []
    again = import_file(services.db, Principal.system(), kev, fmt="kev")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1404)
    # A record naming a KEV CVE (CVE-2021-44228, Log4Shell) carries the flag and due date.
    rec = golden("CH-2099-00007.osv.json") | {"id": "TEST-2021-1", "aliases": ["CVE-2021-44228"]}
    path = tmp_path / "log4j.json"
    path.write_text(json.dumps(rec))
    import_file(services.db, Principal.system(), path)
    with services.db.transaction() as s:
        detail = vuln_detail(s, Principal.system(), "TEST-2021-1")
        entry = s.get(KevEntry, "CVE-2021-44228")
        assert entry is not None
    assert detail.kev is True
    assert detail.kev_entries[0].due_date == entry.due_date
    assert detail.kev_entries[0].ransomware == "Known"


def test_kev_entries_with_bad_fields_are_rejected(services: Services, tmp_path: Path) -> None:
    path = tmp_path / "kev.json"
    good = {
        "cveID": "CVE-2099-0001",
        "dateAdded": "2099-01-01",
        "dueDate": "2099-01-22",
        "knownRansomwareCampaignUse": "Unknown",
    }
    path.write_text(
        json.dumps(
            {
                "vulnerabilities": [
                    good,
                    {**good, "cveID": "not-a-cve"},
                    {**good, "cveID": "CVE-2099-0002", "dateAdded": "yesterday"},
                    {**good, "cveID": "CVE-2099-0003", "knownRansomwareCampaignUse": "Maybe"},
                ]
            }
        )
    )
    result = import_file(services.db, Principal.system(), path, fmt="kev")
    assert result.created == 1
    assert [r["source"].rsplit("#", 1)[1] for r in result.rejected] == [
        "vulnerabilities[1]",
        "vulnerabilities[2]",
        "vulnerabilities[3]",
    ]
    assert count(services, KevEntry) == 1
