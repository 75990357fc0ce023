"""The provider directory's metadata files, built from what the directory holds (pure: no
database, no files): `provider-metadata.json` (CSAF 7.1.7), the ROLIE feed of a TLP folder
(7.1.15), `index.txt` (7.1.12), `changes.csv` (7.1.13), the hash files (7.1.18) and
`security.txt` (7.1.8, RFC 9116). No maintained Python library writes these; the formats are
small and the tests check them against the OASIS schemas and an aggregator's reading."""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from clearinghouse.core.tlp import Tlp
from clearinghouse.vulns.publication.csaf import tlp_folder

WELL_KNOWN = "/.well-known/csaf"
CSAF20_SCHEMA = "https://docs.oasis-open.org/csaf/csaf/v2.0/csaf_json_schema.json"
# The CSAF 2.0 folders (TLP 1.0 labels in lower case, 7.1.16), each with its feed; WHITE is
# TLP:CLEAR, the only public one. AMBER+STRICT records go to `red` (the nearest label that
# does not widen the audience, as in the documents).
FOLDERS = ("white", "green", "amber", "red")
PUBLIC_FOLDER = "white"
FOLDER_OF: dict[str, str] = {str(label): tlp_folder(label) for label in Tlp}


@dataclass(frozen=True)
class Entry:
    """One document in the directory."""

    record_id: str  # ours (the state's key)
    tracking_id: str  # the document's /document/tracking/id: the record's source id
    folder: str
    path: str  # <year>/<file>.json, relative to the folder
    title: str
    initial: str  # document/tracking dates
    current: str
    stamp: str  # the record's updated_at when the document was written
    sha256: str


def feed_name(folder: str) -> str:
    return f"csaf-feed-tlp-{folder}.json"


def key_path(fingerprint: str) -> str:
    return f"openpgp/{fingerprint.lower()}.asc"


def hash_line(data: bytes, name: str, algorithm: str) -> bytes:
    """`sha256sum` / `sha512sum` format: the hex digest, two spaces, the file name."""
    return f"{hashlib.new(algorithm, data).hexdigest()}  {name}\n".encode()


def index_txt(entries: list[Entry]) -> bytes:
    return "".join(f"{e.path}\n" for e in sorted(entries, key=lambda e: e.path)).encode()


def changes_csv(entries: list[Entry]) -> bytes:
    """Each document's path and its current release date, newest first (7.1.13)."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    for e in sorted(entries, key=lambda e: (e.current, e.path), reverse=True):
        writer.writerow([e.path, e.current])
    return out.getvalue().encode()


def rolie_feed(base: str, folder: str, entries: list[Entry], updated: str) -> dict[str, Any]:
    root = f"{base}{WELL_KNOWN}/{folder}"
    label = folder.upper()
    return {
        "feed": {
            "id": f"csaf-feed-tlp-{folder}",
            "title": f"CSAF feed (TLP:{label})",
            "link": [{"rel": "self", "href": f"{root}/{feed_name(folder)}"}],
            "category": [
                {"scheme": "urn:ietf:params:rolie:category:information-type", "term": "csaf"}
            ],
            "updated": updated,
            "entry": [
                {
                    "id": e.tracking_id,
                    "title": e.title,
                    "link": [
                        {"rel": "self", "href": f"{root}/{e.path}"},
                        {"rel": "hash", "href": f"{root}/{e.path}.sha256"},
                        {"rel": "hash", "href": f"{root}/{e.path}.sha512"},
                        {"rel": "signature", "href": f"{root}/{e.path}.asc"},
                    ],
                    "published": e.initial,
                    "updated": e.current,
                    "content": {"type": "application/json", "src": f"{root}/{e.path}"},
                    "format": {"schema": CSAF20_SCHEMA, "version": "2.0"},
                }
                for e in sorted(entries, key=lambda e: (e.current, e.path), reverse=True)
            ],
        }
    }


def provider_metadata(
    base: str, publisher: dict[str, str], fingerprint: str, updated: str
) -> dict[str, Any]:
    """The same shape whatever the directory holds: every TLP folder's feed is listed, empty
    or not, so the metadata says nothing about which restricted labels have documents."""
    root = f"{base}{WELL_KNOWN}"
    return {
        "canonical_url": f"{root}/provider-metadata.json",
        "distributions": [
            {"directory_url": f"{root}/{PUBLIC_FOLDER}/"},
            {
                "rolie": {
                    "feeds": [
                        {
                            "summary": f"All TLP:{folder.upper()} advisories of "
                            f"{publisher['name']}.",
                            "tlp_label": folder.upper(),
                            "url": f"{root}/{folder}/{feed_name(folder)}",
                        }
                        for folder in FOLDERS
                    ]
                }
            },
        ],
        "last_updated": updated,
        "list_on_CSAF_aggregators": True,
        "metadata_version": "2.0",
        "mirror_on_CSAF_aggregators": True,
        "public_openpgp_keys": [
            {"fingerprint": fingerprint, "url": f"{root}/{key_path(fingerprint)}"}
        ],
        "publisher": publisher,
        "role": "csaf_trusted_provider",
    }


def security_txt(base: str, contact: str, now: datetime, days: int) -> str:
    """RFC 9116: Contact and Expires (required), and CSAF's `CSAF:` line (7.1.8)."""
    expires = (now + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"Contact: {contact}\n"
        f"Expires: {expires}\n"
        f"CSAF: {base}{WELL_KNOWN}/provider-metadata.json\n"
        "Preferred-Languages: en\n"
    )
