"""CWE list import."""

from __future__ import annotations

from pathlib import Path

import pytest

from clearinghouse.accounts.policy import Principal
from clearinghouse.container import Services
from clearinghouse.vulns.intake.cwe import import_cwe
from clearinghouse.vulns.intake.osv import import_file
from clearinghouse.vulns.models import CweEntry
from clearinghouse.vulns.search import vuln_detail
from tests.conftest import shared_data_dir
from tests.support.vulns import (
    GOLDEN,
)


@pytest.mark.shared_data
def test_cwe_import_names_the_weaknesses_of_a_record(services: Services, tmp_path: Path) -> None:
    csv_path = shared_data_dir() / "cwe" / "cwe-2000-comprehensive-dictionary.csv"
    first = import_cwe(services.db, Principal.system(), csv_path)
    assert first.created > 900 and first.rejected == []
    assert import_cwe(services.db, Principal.system(), csv_path).unchanged == first.created
    path = tmp_path / "r.json"
    path.write_text((GOLDEN / "CH-2099-00007.osv.json").read_text())
    import_file(services.db, Principal.system(), path)
    with services.db.transaction() as s:
        detail = vuln_detail(s, Principal.system(), "CH-2099-00007")
        assert s.get(CweEntry, 416) is not None
    assert [(c.id, c.name) for c in detail.cwes] == [("CWE-416", "Use After Free")]
