"""Background jobs of the knowledge base."""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearinghouse.core.clock import utcnow
from clearinghouse.storage.jobs import JobContext, job_handler
from clearinghouse.vulns import screening, validations
from clearinghouse.vulns.dedup import candidates, similarity
from clearinghouse.vulns.models import Vulnerability

log = logging.getLogger(__name__)

# The worker keeps one near-duplicate index in memory and adds the records created since it
# was built, so a scan costs a lookup, not a rebuild over the whole corpus. It is rebuilt from
# scratch every REBUILD_SECONDS, which also picks up records whose text was edited.
REBUILD_SECONDS = 6 * 3600
_lock = threading.Lock()
_cache: dict[str, tuple[datetime, datetime, similarity.NearDuplicateIndex]] = {}


def _index(session: Session, key: str) -> similarity.NearDuplicateIndex:
    now = utcnow()
    with _lock:
        built, seen, index = _cache.get(key, (now, now, None))
        if index is None or (now - built).total_seconds() > REBUILD_SECONDS:
            index = similarity.build_index(session)
            _cache[key] = (now, now, index)
            return index
        fresh = session.execute(
            select(Vulnerability.id, Vulnerability.summary, Vulnerability.details).where(
                Vulnerability.created_at >= seen
            )
        ).all()
        similarity.add_records(session, index, fresh)
        _cache[key] = (built, now, index)
        return index


@job_handler("vulns.scan_duplicates")
def scan_duplicates(ctx: JobContext, payload: dict[str, Any]) -> None:
    ids = [str(i) for i in payload.get("vuln_ids", [])]
    index = _index(ctx.tx, ctx.services.db.url)
    created = candidates.scan(ctx.tx, ids, index)
    if created:
        log.info("duplicate candidates found", extra={"vuln_ids": ids, "candidates": created})
    # The reports of these records now know their duplicate signal (alias, crash, text).
    screening.after_dedup(ctx.tx, ids)


@job_handler(validations.JOB_KIND, transactional=False, max_attempts=validations.MAX_ATTEMPTS)
def validate(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Reproduce a report's recipe (`vulns/validations.py`): short transactions around the
    sandbox run, one result per validation whatever the retries."""
    validations.run(
        ctx.services,
        str(payload["validation_id"]),
        ctx.attempt,
        final=ctx.attempt >= validations.MAX_ATTEMPTS,
    )


# --- the CSAF trusted provider (issue 13, part 3) ---
CSAF_SYNC = "vulns.csaf_sync"


@job_handler(CSAF_SYNC, transactional=False, periodic=True)
def csaf_sync(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Bring the CSAF provider directory up to date (`publication/provider/directory.py`):
    enqueued with `vuln_ids` when records change (`request_csaf_sync`), and every periodic
    interval without (which also catches embargoes that ended). Idempotent: a record already
    written from its current version is not touched again."""
    from clearinghouse.accounts.policy import Principal
    from clearinghouse.vulns.publication.provider import build

    ids = payload.get("vuln_ids")
    result = build(
        ctx.services, Principal.system(), ids=None if ids is None else [str(i) for i in ids]
    )
    if result.written or result.removed:
        log.info("CSAF directory updated", extra=asdict(result))


def request_csaf_sync(session: Session, vuln_ids: list[str]) -> None:
    """Enqueue the directory's update for records that changed, once per record version (the
    idempotency key names each record and its `updated_at`)."""
    from clearinghouse.storage import jobs

    stamps = session.execute(
        select(Vulnerability.id, Vulnerability.updated_at).where(Vulnerability.id.in_(vuln_ids))
    ).all()
    key = "|".join(f"{rid}@{ts.isoformat()}" for rid, ts in sorted(stamps))
    jobs.enqueue(
        session,
        CSAF_SYNC,
        {"vuln_ids": sorted(vuln_ids)},
        idempotency_key=f"csaf-sync:{hashlib.sha256(key.encode()).hexdigest()}",
    )
