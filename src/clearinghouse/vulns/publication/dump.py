"""The osv.dev bucket layout (`<Ecosystem>/all.zip`, `ecosystems.txt`, `modified_id.csv`) that
osv-scanner's offline mode and Dependency-Track read."""

from __future__ import annotations

import io
import json
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from clearinghouse.vulns.publication.osv import to_osv


def dump(records: Iterator[dict[str, Any]], out: Path) -> dict[str, int]:
    """Write `out/<Ecosystem>/all.zip` (one `<id>.json` per record), `out/ecosystems.txt` and
    `out/modified_id.csv` (`<modified>,<Ecosystem>/<id>`, newest first), plus a per-ecosystem
    `modified_id.csv` as osv.dev's bucket has. Files are written beside and renamed into place,
    so a reader never sees half a zip."""
    by_ecosystem: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for stored in records:
        record = to_osv(stored)  # the schema version, and ids in the schema's form
        ecosystems = {
            (a.get("package") or {}).get("ecosystem")
            for a in record.get("affected") or []
            if a.get("package")
        }
        for eco in ecosystems - {None}:
            by_ecosystem[str(eco)][record["id"]] = record
    out.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, str]] = []
    for eco, recs in sorted(by_ecosystem.items()):
        folder = out / eco
        folder.mkdir(exist_ok=True)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
            for rid, rec in sorted(recs.items()):
                info = zipfile.ZipInfo(f"{rid}.json", date_time=(2020, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, json.dumps(rec, indent=2, sort_keys=True))
        _atomic_write(folder / "all.zip", buf.getvalue())
        eco_rows = sorted(((r["modified"], rid) for rid, r in recs.items()), reverse=True)
        _atomic_write(
            folder / "modified_id.csv", "".join(f"{m},{rid}\n" for m, rid in eco_rows).encode()
        )
        rows += [(m, f"{eco}/{rid}") for m, rid in eco_rows]
    _atomic_write(out / "ecosystems.txt", "".join(f"{e}\n" for e in sorted(by_ecosystem)).encode())
    _atomic_write(
        out / "modified_id.csv",
        "".join(f"{m},{p}\n" for m, p in sorted(rows, reverse=True)).encode(),
    )
    return {"ecosystems": len(by_ecosystem), "records": len({p for _, p in rows})}


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{datetime.now(UTC).timestamp():.0f}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
