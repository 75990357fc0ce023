"""The blob store seam: `MemoryBlobStore` answers exactly as `DatabaseBlobStore` does, and a job
handler writes through the `Services` it is handed, so a test can give it the twin."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from clearinghouse.container import Services
from clearinghouse.core.errors import Conflict
from clearinghouse.storage import jobs
from clearinghouse.storage.blobs import Blob, BlobStore, DatabaseBlobStore, MemoryBlobStore
from clearinghouse.storage.vault import SecretDestroyed
from clearinghouse.workers.runner import Worker

STORES: dict[str, Callable[[Services], BlobStore]] = {
    "database": lambda services: DatabaseBlobStore(services.vault),
    "memory": lambda services: MemoryBlobStore(),
}


@pytest.mark.parametrize("kind", sorted(STORES))
def test_both_stores_keep_the_same_contract(services: Services, kind: str) -> None:
    """The twin is only worth using if it fails where the real one fails: a missing blob, a
    destroyed one, and a destroy of something unknown (a no-op)."""
    store = STORES[kind](services)
    with services.db.transaction() as session:
        blob = store.put(session, b"\x00report\xff", media_type="application/pdf", purpose="t")
        other = store.put(session, b"kept", media_type="text/plain", purpose="t")
        assert (blob.size, blob.media_type) == (8, "application/pdf")
        assert blob.sha256 == hashlib.sha256(b"\x00report\xff").hexdigest()
        assert blob.id != other.id and blob.id.startswith("blob_")
    with services.db.transaction() as session:
        assert store.get(session, blob.id) == b"\x00report\xff"
        with pytest.raises(Conflict) as missing:
            store.get(session, "blob_01NOSUCHBLOB0000000000000")
        assert missing.value.code == "blob_missing"
        store.destroy(session, "blob_01NOSUCHBLOB0000000000000")
        store.destroy(session, blob.id)
    with services.db.transaction() as session:
        with pytest.raises(SecretDestroyed) as destroyed:
            store.get(session, blob.id)
        assert destroyed.value.code == "secret_destroyed"
        assert store.get(session, other.id) == b"kept"  # destroying one leaves the others


_KIND = "test.storage.blob_put"


@jobs.job_handler(_KIND)
def _put_blob(ctx: jobs.JobContext, payload: dict[str, Any]) -> None:
    ctx.services.blobs.put(ctx.tx, payload["data"].encode(), media_type="text/plain", purpose="t")


def test_a_handler_stores_through_the_services_it_is_given(services: Services) -> None:
    """The worker hands its own `Services` to the handler: given the in-memory twin, the blob
    lands there and the database's blob table stays empty."""
    memory = MemoryBlobStore()
    twin = dataclasses.replace(services, blobs=memory)  # type: ignore[type-var]
    with services.db.transaction() as session:
        job_id = jobs.enqueue(session, _KIND, {"data": "sealed elsewhere"}).id
    assert Worker(twin, worker_id="w").run_once(job_id=job_id)
    with services.db.transaction() as session:
        assert session.get(jobs.Job, job_id).state == "succeeded"  # type: ignore[union-attr]
        assert session.scalar(select(func.count()).select_from(Blob)) == 0
        [stored] = memory._blobs
        assert memory.get(session, stored) == b"sealed elsewhere"
