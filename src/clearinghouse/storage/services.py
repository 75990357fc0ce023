"""`Services`: the shared infrastructure a domain service or job handler is handed besides its
session (settings, the database, the vault, the blob store), as a Protocol, so storage and the
domains need not know the composition root that builds it (`container.build_services`)."""

from __future__ import annotations

from typing import Protocol

from clearinghouse.core.config import Settings
from clearinghouse.storage.blobs import BlobStore
from clearinghouse.storage.db import Database
from clearinghouse.storage.vault import Vault


class Services(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def db(self) -> Database: ...

    @property
    def vault(self) -> Vault: ...

    @property
    def blobs(self) -> BlobStore: ...
