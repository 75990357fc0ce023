"""Reading one file of the provider directory for an HTTP request: which path is a file of
ours, who may read it (the TLP:CLEAR folder and the metadata: anyone; the other folders:
`Action.csaf_restricted_read`, decided in `accounts/policy.py`), and its media type and
validators (ETag = its SHA-256, Last-Modified)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

import clearinghouse.vulns.publication.provider.files as files
from clearinghouse.accounts.policy import Action, Principal, authorize
from clearinghouse.core.clock import utcnow
from clearinghouse.core.config import Settings
from clearinghouse.core.errors import NotFound, Unauthenticated
from clearinghouse.vulns.publication.provider.directory import www

# Names we write: lower-case segments that start with a letter or digit (no dot files, no
# `..`), at most three deep (<folder>/<year>/<file>).
_PATH = re.compile(r"^[a-z0-9][a-z0-9._+-]{0,200}(/[a-z0-9][a-z0-9._+-]{0,200}){0,2}$")
_MEDIA = {
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
    ".sha256": "text/plain; charset=utf-8",
    ".sha512": "text/plain; charset=utf-8",
    ".asc": "application/pgp-signature",
}
RESTRICTED = frozenset(files.FOLDERS) - {files.PUBLIC_FOLDER}


@dataclass(frozen=True)
class Served:
    body: bytes
    media_type: str
    etag: str
    last_modified: str


def read(settings: Settings, p: Principal | None, path: str) -> Served:
    """The file at `path` under /.well-known/csaf/, or NotFound; a restricted folder needs a
    token (401) of someone the policy lets read it (403)."""
    if not _PATH.fullmatch(path) or ".." in path:
        raise NotFound("no such file in the CSAF provider directory")
    folder = path.split("/", 1)[0]
    if folder in RESTRICTED:
        if p is None:
            raise Unauthenticated(f"the TLP:{folder.upper()} folder needs an API token")
        authorize(p, Action.csaf_restricted_read)
    file = www(settings) / path
    suffix = file.suffix
    if not file.is_file() or suffix not in _MEDIA:
        raise NotFound("no such file in the CSAF provider directory")
    body = file.read_bytes()
    media = "application/pgp-keys" if folder == "openpgp" else _MEDIA[suffix]
    modified = datetime.fromtimestamp(file.stat().st_mtime, UTC)
    return Served(
        body,
        media,
        f'"{hashlib.sha256(body).hexdigest()}"',
        format_datetime(modified, usegmt=True),
    )


def security_txt(settings: Settings) -> str:
    return files.security_txt(
        settings.csaf_base, settings.csaf_contact, utcnow(), settings.csaf_security_txt_days
    )
