"""Reading advisory files safely: OSV JSON, JSONL, JSONL.gz and zip archives.

Hostile files are refused, not half-read: a size cap on the file and on every decompressed
stream, a cap on zip members and on their total uncompressed size (zip bombs), no use of member
paths (so no traversal: nothing is extracted to disk), and JSON nesting limits (in the record
model).
"""

from __future__ import annotations

import gzip
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from clearinghouse.vulns.errors import HostileFile

MAX_FILE_BYTES = 512 * 1024**2
MAX_DECOMPRESSED_BYTES = 2 * 1024**3
MAX_MEMBER_BYTES = 64 * 1024**2
MAX_MEMBERS = 500_000
MAX_RATIO = 200  # uncompressed / compressed, per member


@dataclass(frozen=True)
class Item:
    source: str  # where the record came from, for error reports: file[:line] or zip!member
    data: Any | None
    error: str | None = None


def _json_items(text: str, source: str) -> Iterator[Item]:
    try:
        doc = orjson.loads(text)
    except (ValueError, RecursionError) as exc:
        yield Item(source, None, f"not valid JSON: {exc}")
        return
    if isinstance(doc, list):
        for i, d in enumerate(doc):
            yield Item(f"{source}[{i}]", d)
    else:
        yield Item(source, doc)


def _jsonl_items(stream: io.TextIOBase, source: str) -> Iterator[Item]:
    for n, line in enumerate(stream, 1):
        if line.strip():
            try:
                yield Item(f"{source}:{n}", orjson.loads(line))
            except (ValueError, RecursionError) as exc:
                yield Item(f"{source}:{n}", None, f"not valid JSON: {exc}")


class _Capped(io.RawIOBase):
    """A reader that refuses to yield more than `cap` bytes (decompression bombs)."""

    def __init__(self, raw: Any, cap: int, source: str) -> None:
        self.raw, self.cap, self.source, self.seen = raw, cap, source, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        self.seen += len(data)
        if self.seen > self.cap:
            raise HostileFile(f"{self.source} decompresses past {self.cap} bytes; refused")
        buffer[: len(data)] = data
        return len(data)


def read_records(path: Path) -> Iterator[Item]:
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise HostileFile(f"{path.name} is {size} bytes; the limit is {MAX_FILE_BYTES}")
    name = path.name
    if name.endswith(".zip"):
        yield from _zip_items(path)
    elif name.endswith((".jsonl.gz", ".json.gz")):
        with gzip.open(path, "rb") as gz:
            text = io.TextIOWrapper(
                io.BufferedReader(_Capped(gz, MAX_DECOMPRESSED_BYTES, name)), encoding="utf-8"
            )
            if name.endswith(".jsonl.gz"):
                yield from _jsonl_items(text, name)
            else:
                yield from _json_items(text.read(), name)
    elif name.endswith(".jsonl"):
        with path.open(encoding="utf-8") as fh:
            yield from _jsonl_items(fh, name)
    else:
        yield from _json_items(path.read_text(encoding="utf-8"), name)


def _zip_items(path: Path) -> Iterator[Item]:
    with zipfile.ZipFile(path) as archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) > MAX_MEMBERS:
            raise HostileFile(f"{path.name} has {len(members)} members; the limit is {MAX_MEMBERS}")
        if sum(m.file_size for m in members) > MAX_DECOMPRESSED_BYTES:
            raise HostileFile(
                f"{path.name} would decompress past {MAX_DECOMPRESSED_BYTES} bytes; refused"
            )
        for m in members:
            source = f"{path.name}!{m.filename}"
            if m.file_size > MAX_MEMBER_BYTES or (
                m.compress_size
                and m.file_size / m.compress_size > MAX_RATIO
                and m.file_size > 1024**2
            ):
                yield Item(source, None, "member too large or too compressed (zip bomb); skipped")
                continue
            if not m.filename.endswith(".json"):
                continue
            with archive.open(m) as fh:
                data = _Capped(fh, MAX_MEMBER_BYTES, source).read()
            try:
                text = bytes(data or b"").decode("utf-8")
            except UnicodeDecodeError:
                yield Item(source, None, "not UTF-8")
                continue
            yield from _json_items(text, source)
