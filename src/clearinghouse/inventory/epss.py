"""EPSS import in FIRST's CSV format, with history, and the latest score per CVE.

FIRST publishes one file a day (`epss_scores-YYYY-MM-DD.csv.gz`):

    #model_version:v2025.03.14,score_date:2025-03-16T12:55:00Z
    cve,epss,percentile
    CVE-1999-0001,0.01297,0.79001

`import_epss` reads it gzip-compressed or plain, checks EVERY line before writing anything (a
file with one bad line is refused whole, each bad line named by number), and then writes one
row per CVE for that score date in the caller's transaction with one audit event. History is
kept: each score date is its own set of rows. Importing the same file again changes nothing;
a file for a date already imported replaces that date's values where they differ (counted as
`updated`).

The format is parsed by hand with the `csv` module: FIRST publishes no library for it, and its
one comment line is not CSV.
"""

from __future__ import annotations

import csv
import math
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import BinaryIO

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.orm import Session

from clearinghouse.accounts.policy import Action, Principal, authorize
from clearinghouse.audit import trail as audit
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import InvalidInput
from clearinghouse.core.events import AuditTag
from clearinghouse.inventory.epss_models import EpssScore

MAX_BYTES = 64 * 1024**2  # FIRST's daily file is ~10 MB uncompressed for ~300k CVEs
MAX_ERRORS = 20  # bad lines listed in the error; the count covers them all
HEADER = ["cve", "epss", "percentile"]
CVE = re.compile(r"^CVE-\d{4}-\d{4,}$")
META = re.compile(
    r"^#model_version:(?P<model>[A-Za-z0-9._-]{1,40}),score_date:(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:T[0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$"
)
_CHUNK = 1000


class EpssImportInvalid(InvalidInput):
    """The file is not FIRST's EPSS CSV. Codes: `epss_invalid` (bad lines, listed with their
    numbers in `errors`), `epss_too_large`, `epss_unreadable` (not UTF-8, broken gzip)."""

    default_code = "epss_invalid"
    title = "Invalid EPSS file"


@dataclass
class ImportResult:
    source: str
    score_date: date
    model_version: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def rows(self) -> int:
        return self.created + self.updated + self.unchanged


@dataclass(frozen=True)
class _Row:
    cve_id: str
    epss: float
    percentile: float


def _text(stream: BinaryIO) -> str:
    raw = stream.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        raise EpssImportInvalid(f"the file is over {MAX_BYTES} bytes", code="epss_too_large")
    if raw[:2] == b"\x1f\x8b":
        inflater = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
        try:
            plain = inflater.decompress(raw, MAX_BYTES + 1)
        except zlib.error as exc:
            raise EpssImportInvalid(f"broken gzip: {exc}", code="epss_unreadable") from None
        if len(plain) > MAX_BYTES:
            raise EpssImportInvalid(
                f"the file is over {MAX_BYTES} bytes uncompressed", code="epss_too_large"
            )
        if not inflater.eof:
            raise EpssImportInvalid("truncated gzip", code="epss_unreadable")
        raw = plain
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EpssImportInvalid(f"not UTF-8: {exc}", code="epss_unreadable") from None


def _probability(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) and 0.0 <= number <= 1.0 else None


def parse(stream: BinaryIO) -> tuple[str, date, list[_Row]]:
    """(model_version, score_date, rows) of one file, or EpssImportInvalid naming every bad
    line (the first MAX_ERRORS of them)."""
    lines = _text(stream).splitlines()
    errors: list[str] = []
    meta = META.match(lines[0].strip()) if lines else None
    score_date: date | None = None
    if meta is None:
        errors.append("line 1: expected `#model_version:...,score_date:YYYY-MM-DD...`")
    else:
        try:
            score_date = date.fromisoformat(meta["date"])
        except ValueError:
            errors.append(f"line 1: score_date {meta['date']!r} is not a date")
    if len(lines) < 2 or lines[1].strip() != ",".join(HEADER):
        errors.append(f"line 2: expected the header `{','.join(HEADER)}`")
    rows: list[_Row] = []
    seen: dict[str, int] = {}
    for n, fields in enumerate(csv.reader(lines[2:]), start=3):
        if not fields:
            if n == len(lines):  # one blank last line is tolerated
                continue
            errors.append(f"line {n}: blank")
            continue
        if len(fields) != 3:
            errors.append(f"line {n}: {len(fields)} fields, expected 3")
            continue
        cve_id, epss_text, percentile_text = (f.strip() for f in fields)
        epss, percentile = _probability(epss_text), _probability(percentile_text)
        if not CVE.match(cve_id):
            errors.append(f"line {n}: {cve_id[:60]!r} is not a CVE id")
        elif epss is None:
            errors.append(f"line {n}: epss {epss_text[:40]!r} is not a number in 0..1")
        elif percentile is None:
            errors.append(f"line {n}: percentile {percentile_text[:40]!r} is not a number in 0..1")
        elif cve_id in seen:
            errors.append(f"line {n}: {cve_id} again (first on line {seen[cve_id]})")
        else:
            seen[cve_id] = n
            rows.append(_Row(cve_id, epss, percentile))
    if not rows and not errors:
        errors.append("no scores")
    if errors:
        shown = errors[:MAX_ERRORS]
        more = f" (and {len(errors) - MAX_ERRORS} more)" if len(errors) > MAX_ERRORS else ""
        raise EpssImportInvalid(
            f"{len(errors)} bad line(s), nothing imported: " + "; ".join(shown) + more,
            errors=shown,
            error_count=len(errors),
        )
    assert meta is not None and score_date is not None
    return meta["model"], score_date, rows


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def import_epss(
    session: Session, stream: BinaryIO, source: str, *, principal: Principal
) -> ImportResult:
    """Import one EPSS file in the caller's transaction: all of it or (on any bad line) none.
    Coordinators only, as for the other reference catalogues (`vuln:import`)."""
    authorize(principal, Action.vuln_import)
    model_version, score_date, rows = parse(stream)
    source = source[:200]
    result = ImportResult(source=source, score_date=score_date, model_version=model_version)
    existing = {
        cve: (epss, percentile, model)
        for cve, epss, percentile, model in session.execute(
            select(
                EpssScore.cve_id, EpssScore.epss, EpssScore.percentile, EpssScore.model_version
            ).where(EpssScore.score_date == score_date)
        )
    }
    now = utcnow()
    new, changed = [], []
    for row in rows:
        values = {
            "cve_id": row.cve_id,
            "score_date": score_date,
            "epss": row.epss,
            "percentile": row.percentile,
            "model_version": model_version,
            "source": source,
            "imported_at": now,
        }
        before = existing.get(row.cve_id)
        if before is None:
            new.append(values)
        elif before != (row.epss, row.percentile, model_version):
            changed.append(values)
        else:
            result.unchanged += 1
    if new:
        session.execute(insert(EpssScore), new)
    if changed:
        session.execute(update(EpssScore), changed)  # bulk UPDATE by primary key
    result.created, result.updated = len(new), len(changed)
    if new or changed:
        audit.record(
            session,
            AuditTag.INVENTORY_EPSS_IMPORT,
            actor=principal.actor,
            subject_type="epss_scores",
            subject_id=score_date.isoformat(),
            data={
                "source": source,
                "model_version": model_version,
                "created": result.created,
                "updated": result.updated,
                "unchanged": result.unchanged,
            },
        )
    return result


def latest(session: Session, cve_ids: Iterable[str]) -> dict[str, tuple[float, float, date]]:
    """The most recent score of each CVE that has one: {cve: (epss, percentile, score_date)}."""
    wanted = sorted({c for c in cve_ids if CVE.match(c)})
    out: dict[str, tuple[float, float, date]] = {}
    for chunk in _chunks(wanted):
        newest = (
            select(EpssScore.cve_id, func.max(EpssScore.score_date).label("d"))
            .where(EpssScore.cve_id.in_(chunk))
            .group_by(EpssScore.cve_id)
            .subquery()
        )
        query = select(
            EpssScore.cve_id, EpssScore.epss, EpssScore.percentile, EpssScore.score_date
        ).join(
            newest,
            and_(EpssScore.cve_id == newest.c.cve_id, EpssScore.score_date == newest.c.d),
        )
        for cve, epss, percentile, day in session.execute(query):
            out[cve] = (epss, percentile, day)
    return out


def history(session: Session, cve_id: str) -> list[tuple[date, float, float]]:
    """Every imported score of one CVE, oldest first: [(score_date, epss, percentile)]."""
    rows = session.execute(
        select(EpssScore.score_date, EpssScore.epss, EpssScore.percentile)
        .where(EpssScore.cve_id == cve_id)
        .order_by(EpssScore.score_date)
    )
    return [(d, e, p) for d, e, p in rows]
