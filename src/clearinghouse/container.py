"""The composition root: builds the services every shell (API, CLI, workers) shares."""

from __future__ import annotations

from dataclasses import dataclass

from clearinghouse.core.config import Settings, get_settings
from clearinghouse.core.crypto import Keyring
from clearinghouse.storage.blobs import BlobStore, DatabaseBlobStore
from clearinghouse.storage.db import Database
from clearinghouse.storage.vault import Vault


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
    return Services(
        settings=settings,
        db=Database(settings.effective_database_url),
        vault=vault,
        blobs=DatabaseBlobStore(vault),
    )
