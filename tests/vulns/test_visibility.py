"""Who sees what: nothing non-public reaches dumps or unauthorised listings; one definition of
"public" in Python, in SQL and in the public index."""

from __future__ import annotations

import itertools
import json
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from clearinghouse.accounts.policy import Principal
from clearinghouse.container import Services
from clearinghouse.core.clock import utcnow
from clearinghouse.core.tlp import Tlp
from clearinghouse.vulns.intake.osv import import_file
from clearinghouse.vulns.models import Vulnerability
from clearinghouse.vulns.public import index as public_index
from clearinghouse.vulns.publication.dump import dump
from clearinghouse.vulns.publication.export import public_records
from clearinghouse.vulns.records import upsert_batch
from clearinghouse.vulns.states import VulnStatus
from clearinghouse.vulns.visibility import is_public, public_clause, publishable
from tests.support.vulns import record, submit
from tests.support.world import Member


def test_nothing_non_public_reaches_dumps_or_unauthorised_listings(
    client: TestClient, services: Services, people: dict[str, Member], tmp_path: Path
) -> None:
    public = tmp_path / "p.json"
    public.write_text(
        json.dumps(
            {
                "id": "PYSEC-2099-1",
                "modified": "2099-01-01T00:00:00Z",
                "summary": "public one",
                "affected": [
                    {"package": {"ecosystem": "PyPI", "name": "tinyparse"}, "versions": ["1.0"]}
                ],
            }
        )
    )
    import_file(services.db, Principal.system(), public)
    submit(client, people["lab"])  # embargoed, TLP:AMBER+STRICT, status new
    submit(client, people["vendor"], tlp="CLEAR", embargo_days=0)  # CLEAR but not published
    dumped = dump(public_records(services.db, Principal.system()), tmp_path / "d")
    with zipfile.ZipFile(tmp_path / "d" / "PyPI" / "all.zip") as z:
        assert z.namelist() == ["PYSEC-2099-1.json"]
    assert dumped["records"] == 1
    assert (tmp_path / "d" / "ecosystems.txt").read_text() == "PyPI\n"
    assert (
        tmp_path / "d" / "modified_id.csv"
    ).read_text() == "2099-01-01T00:00:00Z,PyPI/PYSEC-2099-1\n"
    listing = client.get("/api/v1/vulns", headers=people["other"].headers).json()["items"]
    assert [v["source_id"] for v in listing] == ["PYSEC-2099-1"]
    mine = client.get("/api/v1/vulns", headers=people["vendor"].headers).json()["items"]
    assert len(mine) == 2  # the public one and its own report
    everything = client.get("/api/v1/vulns", headers=people["coordinator"].headers).json()["items"]
    assert len(everything) == 3


def test_public_means_the_same_in_python_in_sql_and_in_the_public_index(
    services: Services,
) -> None:
    """Every (status, TLP, embargo) combination: the Python predicate, the SQL clause, the
    dump and the OSV index answer the same records, and only published TLP:CLEAR records out
    of embargo."""
    now = utcnow()
    embargoes = {"none": None, "over": now - timedelta(days=1), "running": now + timedelta(days=7)}
    combos = list(itertools.product(VulnStatus, Tlp, embargoes))
    docs = [record(f"PUB-{n}") for n in range(len(combos))]
    with services.db.transaction() as s:
        upsert_batch(s, docs)
        for doc, (status, tlp, embargo) in zip(docs, combos, strict=True):
            vuln = s.scalar(select(Vulnerability).where(Vulnerability.source_id == doc["id"]))
            assert vuln is not None
            vuln.status, vuln.tlp, vuln.embargo_until = status.value, tlp.value, embargoes[embargo]
            vuln.updated_at = utcnow()
    expected = {
        doc["id"]
        for doc, (status, tlp, embargo) in zip(docs, combos, strict=True)
        if status is VulnStatus.published and tlp is Tlp.clear and embargo != "running"
    }
    assert len(expected) == 2
    with services.db.transaction() as s:
        rows = s.scalars(select(Vulnerability)).all()
        in_python = {v.source_id for v in rows if is_public(v, utcnow())}
        in_sql = set(
            s.scalars(select(Vulnerability.source_id).where(public_clause(utcnow()))).all()
        )
    dumped = {d["id"] for d in public_records(services.db, Principal.system())}
    index = public_index.index_for(services.db)
    indexed = {e.source_id for e in index.lookup("PyPI", "demo", None)}
    assert in_python == in_sql == dumped == indexed == expected
    assert not any(
        publishable(s.value, t.value)
        for s in VulnStatus
        for t in Tlp
        if (s, t) != (VulnStatus.published, Tlp.clear)
    )


@pytest.mark.parametrize(
    ("label", "tlp"),
    [
        (None, Tlp.clear),
        ("", Tlp.clear),
        ("white", Tlp.clear),
        ("amber+strict", Tlp.amber_strict),
        ("GREEN", Tlp.green),
        ("PURPLE", Tlp.red),
        (7, Tlp.red),
    ],
)
def test_an_imported_tlp_label_is_read_as_its_tlp_2_label_and_unknown_ones_as_red(
    label: object, tlp: Tlp
) -> None:
    assert Tlp.of_label(label) is tlp
