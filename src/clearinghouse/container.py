"""The composition root: builds the services every shell (API, CLI, workers) shares."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from sqlalchemy import MetaData

from clearinghouse.audit import keys as audit_keys
from clearinghouse.core.config import Settings, get_settings
from clearinghouse.core.crypto import Keyring
from clearinghouse.storage.blobs import BlobStore, DatabaseBlobStore
from clearinghouse.storage.db import Database
from clearinghouse.storage.vault import Vault

# Modules whose import registers job handlers (`@job_handler`). Each domain's tasks.py.
JOB_MODULES = (
    "clearinghouse.audit.tasks",
    "clearinghouse.reviews.tasks",
    "clearinghouse.evals.tasks",
    "clearinghouse.vulns.tasks",
)


# Modules that define tables: each domain's models (and storage's own tables). The complete
# schema is theirs together; storage itself imports no domain.
MODEL_MODULES = (
    "clearinghouse.storage.blobs",
    "clearinghouse.storage.jobs",
    "clearinghouse.storage.vault",
    "clearinghouse.accounts.models",
    "clearinghouse.audit.models",
    "clearinghouse.reviews.models",
    "clearinghouse.evals.models",
    "clearinghouse.vulns.models",
)


def metadata() -> MetaData:
    """The complete schema (for tests and for `alembic revision --autogenerate`)."""
    for module in MODEL_MODULES:
        importlib.import_module(module)
    from clearinghouse.storage.base import Base

    return Base.metadata


def load_job_handlers(extra: list[str]) -> None:
    for module in (*JOB_MODULES, *extra):
        importlib.import_module(module)


@dataclass
class Services:
    settings: Settings
    db: Database
    vault: Vault
    blobs: BlobStore


def build_services(settings: Settings | None = None) -> Services:
    settings = settings or get_settings()
    settings.check_production()
    keyring = Keyring(settings.master_key_bytes, tuple(settings.retired_master_key_bytes))
    vault = Vault(keyring)
    load_job_handlers(settings.job_modules)
    db = Database(settings.effective_database_url)
    # record() needs the vault; the data directory holds the audit anchor (docs/audit.md)
    audit_keys.bind(db.sessions, vault, settings.audit_checkpoint_origin, settings.var_dir)
    return Services(settings=settings, db=db, vault=vault, blobs=DatabaseBlobStore(vault))
