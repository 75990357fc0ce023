"""The review program's periodic jobs, run by a real worker."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.core.clock import utcnow
from clearinghouse.evals.models import EvalArtefact
from clearinghouse.evals.runs import artefacts
from clearinghouse.reviews.models import Submission
from clearinghouse.storage import jobs
from clearinghouse.storage.blobs import Blob
from clearinghouse.storage.vault import SealedValue
from clearinghouse.workers.runner import Worker
from tests.support.openai_stub import openai_endpoint
from tests.support.review import KEY
from tests.support.world import World

TRANSCRIPT = b"CANARY-0d1e-transcript-of-an-unreleased-model"


def test_the_purge_job_destroys_the_eval_artefacts_of_a_submission(
    world: World, client: TestClient
) -> None:
    """The retention job, not only `retention.purge_expired` called by hand, passes the evals
    purger: a sealed log of the submission's eval run is destroyed with the submission's own
    content once the retention period is over."""
    lab, ev = world.org(OrgKind.lab), world.org(OrgKind.evaluator)
    lab_m = world.member(lab, OrgKind.lab, Role.member)
    ev_m = world.member(ev, OrgKind.evaluator, Role.member)
    with openai_endpoint(KEY) as (endpoint, _):
        sid = world.submission(world.agreement(lab), lab_m, ev, endpoint_url=endpoint, api_key=KEY)
        r = client.post(f"/api/v1/submissions/{sid}/verify-access", headers=ev_m.headers)
        assert r.status_code == 200, r.text
    r = client.post(
        "/api/v1/evals/runs",
        headers=ev_m.headers,
        json={"submission_id": sid, "tasks": ["knowledge_original"], "limit": 1},
    )
    assert r.status_code == 202, r.text
    services = world.services
    with services.db.transaction() as s:
        art = artefacts.seal_bytes(s, services.blobs, r.json()["id"], "x.eval", TRANSCRIPT, "log")
        art_id, blob_id = art.id, art.blob_id
        sub = s.get(Submission, sid)
        assert sub is not None
        sub.state, sub.ended_at = "closed", utcnow() - timedelta(days=365)
        job_id = jobs.enqueue(s, "reviews.purge_expired", {}).id
    # Only this job: the queued eval run must not start.
    assert Worker(services).run_once(job_id=job_id)
    with services.db.transaction() as s:
        sub = s.get(Submission, sid)
        assert sub is not None and sub.purged_at is not None
        row = s.get(EvalArtefact, art_id)
        assert row is not None and row.destroyed_at is not None
        blob = s.get(Blob, blob_id)
        assert blob is not None
        sealed = s.get(SealedValue, blob.sealed_id)
        assert sealed is not None and sealed.ciphertext is None and sealed.wrapped_key is None
