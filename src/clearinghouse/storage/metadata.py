"""The complete schema: imports every module that defines tables (for Alembic and tests)."""

from __future__ import annotations

from sqlalchemy import MetaData


def metadata() -> MetaData:
    import clearinghouse.accounts.models
    import clearinghouse.audit.models
    import clearinghouse.evals.models
    import clearinghouse.reviews.models
    import clearinghouse.storage.blobs
    import clearinghouse.storage.jobs
    import clearinghouse.storage.vault
    import clearinghouse.vulns.models  # noqa: F401
    from clearinghouse.storage.base import Base

    return Base.metadata
