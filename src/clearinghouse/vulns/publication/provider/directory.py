"""The CSAF trusted provider's directory (CSAF 2.0 section 7), built as files under
`<var_dir>/csaf/www/` and served from there (`serving.py`).

What it holds: one CSAF 2.0 document per published record whose embargo is over, in the folder
of its TLP label (`white` is TLP:CLEAR, public; `green`, `amber`, `red` need a coordinator's
token) and the year of its initial release, each with `.sha256`, `.sha512` and an OpenPGP `.asc`
signature; per folder `index.txt`, `changes.csv` and a ROLIE feed; `provider-metadata.json`
and the public key. Unpublished and embargoed records are never written anywhere.

`build()` is incremental and idempotent: it compares the records with the directory's state
(`<var_dir>/csaf/state.json`: per record its path, the `updated_at` it was written from and its
digest) and rewrites only the documents whose record changed, appeared (published, or its
embargo ended) or left (withdrawn from publication, TLP raised, embargoed again), then the
metadata of the folders that changed. `full=True` rewrites and re-signs everything. A change of
the publisher settings, the base URL or the key makes the next build a full one. One build runs
at a time per instance (a file lock).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select

import clearinghouse.vulns.publication.provider.files as files
from clearinghouse.accounts.policy import Action, Principal, authorize
from clearinghouse.core.clock import utcnow
from clearinghouse.core.config import Settings
from clearinghouse.storage.services import Services
from clearinghouse.vulns.catalog import cwe_names
from clearinghouse.vulns.models import Vulnerability
from clearinghouse.vulns.publication.csaf import filename, release_dates, to_csaf
from clearinghouse.vulns.publication.provider.files import FOLDER_OF, FOLDERS, Entry
from clearinghouse.vulns.publication.provider.signing import Signer
from clearinghouse.vulns.states import VulnStatus

log = logging.getLogger(__name__)
BATCH = 500
STATE_VERSION = 2


@dataclass(frozen=True)
class BuildResult:
    full: bool
    documents: int  # in the directory after the build
    written: int
    signed: int
    removed: int
    fingerprint: str | None


def root(settings: Settings) -> Path:
    return settings.var_dir / "csaf"


def www(settings: Settings) -> Path:
    return root(settings) / "www"


def publisher(settings: Settings) -> dict[str, str]:
    return {
        "category": "coordinator",
        "contact_details": settings.csaf_contact,
        "name": settings.csaf_publisher_name,
        "namespace": settings.csaf_publisher_namespace,
    }


def _write(path: Path, data: bytes) -> None:
    """Atomically: a reader sees the old file or the new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


@contextmanager
def _locked(settings: Settings) -> Iterator[None]:
    root(settings).mkdir(parents=True, exist_ok=True)
    with (root(settings) / "build.lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _load_state(settings: Settings) -> tuple[str, dict[str, Entry]]:
    path = root(settings) / "state.json"
    if not path.exists():
        return "", {}
    data = json.loads(path.read_text())
    if data.get("version") != STATE_VERSION:
        return "", {}
    return str(data["config"]), {k: Entry(**v) for k, v in data["entries"].items()}


def _save_state(settings: Settings, config: str, entries: dict[str, Entry]) -> None:
    body = {
        "version": STATE_VERSION,
        "config": config,
        "entries": {k: asdict(v) for k, v in sorted(entries.items())},
    }
    _write(root(settings) / "state.json", json.dumps(body).encode())


def _distributable(session: Any) -> dict[str, tuple[str, str]]:
    """record id → (updated_at stamp, folder) of every published record out of embargo."""
    now = utcnow()
    rows = session.execute(
        select(Vulnerability.id, Vulnerability.updated_at, Vulnerability.tlp).where(
            Vulnerability.status == VulnStatus.published.value,
            or_(Vulnerability.embargo_until.is_(None), Vulnerability.embargo_until <= now),
        )
    ).all()
    return {rid: (updated.isoformat(), FOLDER_OF.get(tlp, "red")) for rid, updated, tlp in rows}


def _remove(settings: Settings, entry: Entry) -> None:
    doc = www(settings) / entry.folder / entry.path
    for suffix in ("", ".sha256", ".sha512", ".asc"):
        doc.with_name(doc.name + suffix).unlink(missing_ok=True)


def build(
    services: Services, p: Principal, *, full: bool = False, ids: Iterable[str] | None = None
) -> BuildResult:
    """Bring the directory up to date (see the module's docstring). `ids`: look only at these
    records (the job enqueued when they change); None: at every record."""
    authorize(p, Action.vuln_import)  # publishing work: coordinators (and the system)
    settings = services.settings
    with _locked(settings):
        return _build(services, full, None if ids is None else set(ids))


def _build(services: Services, full: bool, only: set[str] | None) -> BuildResult:
    settings = services.settings
    base = settings.csaf_base
    pub = publisher(settings)
    config, entries = _load_state(settings)
    with services.db.transaction() as session:
        current = _distributable(session)
    metadata_file = www(settings) / "provider-metadata.json"
    considered = set(current) | set(entries) if only is None else only
    todo = sorted(
        rid
        for rid in considered
        if rid in current
        and (
            full
            or rid not in entries
            or entries[rid].stamp != current[rid][0]
            or entries[rid].folder != current[rid][1]
        )
    )
    gone = sorted(rid for rid in considered if rid in entries and rid not in current)
    if not (todo or gone or full or config == "") and metadata_file.exists():
        return BuildResult(False, len(entries), 0, 0, 0, None)
    signer = Signer.open(services, pub["name"], settings.csaf_contact.removeprefix("mailto:"))
    try:
        wanted = hashlib.sha256(
            json.dumps([base, pub, signer.fingerprint], sort_keys=True).encode()
        ).hexdigest()
        if wanted != config:  # new settings or key: every document is rewritten
            full, todo = True, sorted(current)
        return _build_signed(services, signer, wanted, entries, current, todo, gone, full)
    finally:
        signer.close()


def _build_signed(
    services: Services,
    signer: Signer,
    config: str,
    entries: dict[str, Entry],
    current: dict[str, tuple[str, str]],
    todo: list[str],
    gone: list[str],
    full: bool,
) -> BuildResult:
    settings = services.settings
    base, pub = settings.csaf_base, publisher(settings)
    if full:
        # everything is rewritten: files of records no longer in the directory go too
        for entry in entries.values():
            if entry.record_id not in current:
                _remove(settings, entry)
        gone = [rid for rid in entries if rid not in current]
    touched: set[str] = set()
    for rid in gone:
        entry = entries.pop(rid)
        _remove(settings, entry)
        touched.add(entry.folder)
    claimed = {(e.folder, e.path): e.record_id for e in entries.values()}
    written = signed = 0
    for start in range(0, len(todo), BATCH):
        with services.db.transaction() as session:
            vulns = session.scalars(
                select(Vulnerability).where(Vulnerability.id.in_(todo[start : start + BATCH]))
            ).all()
            names = cwe_names(session, sorted({c for v in vulns for c in v.cwe_ids}))
            rendered = [(v.id, v.tlp, v.updated_at.isoformat(), v.record) for v in vulns]
        for rid, tlp, stamp, record in sorted(rendered):
            folder = FOLDER_OF.get(tlp, "red")
            doc = to_csaf(record, tlp=tlp, cwe_names=names, base_url=base, publisher=pub)
            initial, current_date, _ = release_dates(record)
            path = f"{initial[:4]}/{filename(record['id'])}"
            owner = claimed.get((folder, path))
            if owner is not None and owner != rid:
                log.warning("CSAF file name taken", extra={"vuln_id": rid, "by": owner})
                continue
            data = json.dumps(doc, indent=2, ensure_ascii=False).encode() + b"\n"
            digest = hashlib.sha256(data).hexdigest()
            old = entries.get(rid)
            if old is not None and (old.folder, old.path) != (folder, path):
                _remove(settings, old)
                claimed.pop((old.folder, old.path), None)
                touched.add(old.folder)
            target = www(settings) / folder / path
            name = target.name
            if full or old is None or old.sha256 != digest or not target.exists():
                _write(target, data)
                _write(target.with_name(name + ".sha256"), files.hash_line(data, name, "sha256"))
                _write(target.with_name(name + ".sha512"), files.hash_line(data, name, "sha512"))
                _write(target.with_name(name + ".asc"), signer.sign(data))
                written += 1
                signed += 1
            entries[rid] = Entry(
                rid,
                record["id"],
                folder,
                path,
                doc["document"]["title"],
                initial,
                current_date,
                stamp,
                digest,
            )
            claimed[(folder, path)] = rid
            touched.add(folder)
    now = utcnow().isoformat()
    by_folder: dict[str, list[Entry]] = {f: [] for f in FOLDERS}
    for entry in entries.values():
        by_folder[entry.folder].append(entry)
    for folder in FOLDERS:
        feed = www(settings) / folder / files.feed_name(folder)
        if folder not in touched and not full and feed.exists():
            continue
        listed = by_folder[folder]
        _write(www(settings) / folder / "index.txt", files.index_txt(listed))
        _write(www(settings) / folder / "changes.csv", files.changes_csv(listed))
        body = files.rolie_feed(base, folder, listed, now)
        _write(feed, json.dumps(body, indent=2, ensure_ascii=False).encode())
    # The key and the metadata depend on the settings and the key only: rewritten when those
    # change (a full build) or are missing, never because a restricted folder changed (a new
    # ETag or Last-Modified on a public file would tell everyone when that happened).
    key_file = www(settings) / files.key_path(signer.fingerprint)
    if full or not key_file.exists():
        _write(key_file, signer.public_key())
    metadata_file = www(settings) / "provider-metadata.json"
    if full or not metadata_file.exists():
        meta = files.provider_metadata(base, pub, signer.fingerprint, now)
        _write(metadata_file, json.dumps(meta, indent=2).encode())
    _save_state(settings, config, entries)
    return BuildResult(full, len(entries), written, signed, len(gone), signer.fingerprint)
