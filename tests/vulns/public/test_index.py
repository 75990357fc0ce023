"""The public index: freshness, embargo ends without a database change, reloads and caching."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from clearinghouse.container import Services
from clearinghouse.core.clock import utcnow
from clearinghouse.vulns.models import Vulnerability


def test_an_embargo_that_ends_with_no_change_in_the_database_ends_in_cached_answers(
    client: TestClient, loaded: Services
) -> None:
    """Answers are cached until the database changes; an embargo ends by the clock alone, so
    a cached answer that leaves an embargoed record out must expire when the embargo does."""
    with loaded.db.transaction() as s:
        s.scalars(
            select(Vulnerability).where(Vulnerability.source_id == "SECRET-1")
        ).one().embargo_until = utcnow() + timedelta(seconds=1.5)
    q = {"package": {"name": "demo", "ecosystem": "PyPI"}, "version": "1.0"}

    def served() -> tuple[list[str], list[str]]:
        single = client.post("/v1/query", json=q).json()
        batch = client.post("/v1/querybatch", json={"queries": [q]}).json()
        return [v["id"] for v in single["vulns"]], [v["id"] for v in batch["results"][0]["vulns"]]

    assert served() == (["PYSEC-A", "PYSEC-B"], ["PYSEC-A", "PYSEC-B"])
    assert served() == (["PYSEC-A", "PYSEC-B"], ["PYSEC-A", "PYSEC-B"])  # from the caches
    time.sleep(1.6)
    # SECRET is no registered OSV prefix: served with the schema's `x_` (vulns.osv.osv_id).
    assert served() == (
        ["PYSEC-A", "PYSEC-B", "x_SECRET-1"],
        ["PYSEC-A", "PYSEC-B", "x_SECRET-1"],
    )


def test_the_freshness_probe_replaces_a_broken_connection(loaded: Services) -> None:
    db = loaded.db
    first = db.probe("SELECT max(updated_at) FROM vulnerabilities")
    assert first is not None
    db._probe_conn.invalidate()  # as a database restart would leave it
    assert db.probe("SELECT max(updated_at) FROM vulnerabilities") == first
    db.dispose()
    assert db.probe("SELECT count(*) FROM vulnerabilities") == 5


def test_an_answer_computed_across_a_reload_is_not_cached(
    loaded: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lookup that overlaps a reload (another thread, on PostgreSQL) must not leave its
    answer, computed from the old index, in the caches."""
    from clearinghouse.vulns.public import index as public_index

    index = public_index.index_for(loaded.db)
    real = public_index._affects

    def affects_during_a_reload(version: str, entry: public_index.Entry) -> bool:
        index.reloads += 1  # what a reload in another thread does meanwhile
        return real(version, entry)

    monkeypatch.setattr(public_index, "_affects", affects_during_a_reload)
    now = utcnow()
    assert [e.source_id for e in index.lookup("PyPI", "demo", "1.0")] == ["PYSEC-A", "PYSEC-B"]
    index.batch_answer("PyPI", "demo", "1.1", now)
    assert not index.cache and not index.answers
    monkeypatch.setattr(public_index, "_affects", real)
    index.batch_answer("PyPI", "demo", "1.1", now)
    assert ("PyPI", "demo", "1.1") in index.cache and ("PyPI", "demo", "1.1") in index.answers


def test_huge_query_keys_are_answered_but_never_cached(
    client: TestClient, loaded: Services
) -> None:
    """Anonymous clients choose the cache keys: a huge package name must not stay in memory."""
    from clearinghouse.vulns.public import index as public_index

    huge = {"package": {"name": "x" * 5000, "ecosystem": "PyPI"}, "version": "1.0"}
    assert client.post("/v1/query", json=huge).json() == {}
    assert client.post("/v1/querybatch", json={"queries": [huge]}).json() == {"results": [{}]}
    index = public_index.index_for(loaded.db)
    assert not any(len(key[1]) > 1000 for key in [*index.cache, *index.answers])
    normal = {"package": {"name": "demo", "ecosystem": "PyPI"}, "version": "1.0"}
    client.post("/v1/querybatch", json={"queries": [normal]})
    assert ("PyPI", "demo", "1.0") in index.answers
