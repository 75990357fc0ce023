"""SBOM upload to exposures (issue 15): a 5,000-component CycloneDX 1.6 JSON SBOM, end to end.

Setup (untimed): a migrated SQLite database with every advisory of ../shared/data (PyPI, Go,
crates.io) imported as the product imports them (`vulns.intake.osv.import_file`), the jobs that
import queues run to completion, and an operator organisation with one member and one asset.
The SBOM's components are drawn (seeded, without repetition) from the real (ecosystem, name,
version) the advisories name and the versions around them (bench_inventory's synthesiser), as
purls (pkg:pypi, pkg:golang, pkg:cargo).

Timed, per repetition, on a fresh copy of that database in a forked child (its own peak RSS),
after one untimed read of the document (the schema validator built, as in a running server):
1. **upload**: `inventory.sboms.intake.upload` as the operator (parse, schema validation,
   normalisation, storage of the SBOM and its components, the matching job queued), committed;
2. **match + prioritise**: a real `Worker` in-process (as the tests run it) draining the queue
   until no job is due: the SBOM's matching job, which opens its exposures and prioritises them
   (SSVC, EPSS, KEV, due date) in its transaction, and whatever it queues;
3. the exposures opened are counted (untimed).

Peer, in the same run: parsing and validating the same bytes with cyclonedx-python-lib alone
(`json.loads`, the library's schema validator for 1.6, `Bom.from_json`): the floor of any
intake, before anything is stored or matched; run once untimed first (its schema loaded). Also
printed, for scale: the library's deserialisation alone, without its schema check. Printed: the ratio of our upload, and of the whole
upload-to-exposures, to that floor.

5 repetitions, medians. `--quick`: 500 components. Needs ../shared/data (or
CLEARINGHOUSE_SHARED_DATA).
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import multiprocessing
import os
import random
import resource
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_inventory import DATA, FILES, advisories, distinct_components
from common import machine, median

REPS = 5
SEED = 16
PURL_TYPES = {"PyPI": "pypi", "Go": "golang", "crates.io": "cargo"}


# --- the SBOM ---------------------------------------------------------------------------------


def purl_of(eco: str, name: str, version: str) -> str:
    from packageurl import PackageURL

    kind = PURL_TYPES[eco]
    namespace = None
    if kind == "golang" and "/" in name:
        namespace, name = name.rsplit("/", 1)
    return str(PackageURL(type=kind, namespace=namespace, name=name, version=version).to_string())


def sbom(n: int) -> tuple[bytes, int]:
    """A CycloneDX 1.6 JSON SBOM of `n` components drawn from the advisories' packages; and the
    size of the pool they were drawn from."""
    pool = [c for c in distinct_components(advisories()) if c[0] in PURL_TYPES]
    chosen = random.Random(SEED).sample(pool, n)
    components = [
        {
            "type": "library",
            "bom-ref": f"c{i}",
            "name": name,
            "version": version,
            "purl": purl_of(eco, name, version),
        }
        for i, (eco, name, version) in enumerate(chosen)
    ]
    doc = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
        "version": 1,
        "metadata": {"component": {"type": "application", "name": "plant-scada", "bom-ref": "app"}},
        "components": components,
    }
    return json.dumps(doc).encode(), len(pool)


# --- the peer: cyclonedx-python-lib alone -----------------------------------------------------


def peer(data: bytes, *, validate: bool = True) -> int:
    """Parse and validate with cyclonedx-python-lib only; returns the components read. Without
    `validate`: its deserialisation alone (no schema check: what no intake may skip)."""
    from cyclonedx.model.bom import Bom
    from cyclonedx.schema import OutputFormat, SchemaVersion
    from cyclonedx.validation import make_schemabased_validator

    text = data.decode("utf-8")
    if validate:
        validator = make_schemabased_validator(OutputFormat.JSON, SchemaVersion.V1_6)
        error = validator.validate_str(text)
        if error is not None:
            raise SystemExit(f"the peer refused the SBOM: {error}")
    bom = Bom.from_json(json.loads(text))  # type: ignore[attr-defined]
    return len(bom.components)


# --- setup ------------------------------------------------------------------------------------


def settings_for(path: Path, var: Path, key: str) -> Any:
    from clearinghouse.core.config import Environment, Settings

    return Settings(
        env=Environment.test,
        var_dir=var,
        database_url=f"sqlite:///{path}",
        master_key=key,
        log_format="json",
    )  # type: ignore[arg-type]


def prepare(root: Path, key: str) -> dict[str, Any]:
    """The base database: advisories imported, their jobs done, an operator with an asset."""
    from clearinghouse.accounts.models import OrgKind, Role
    from clearinghouse.accounts.orgs import create_org
    from clearinghouse.accounts.policy import Principal
    from clearinghouse.accounts.schemas import OrgCreate, UserCreate
    from clearinghouse.accounts.users import create_user
    from clearinghouse.container import build_services
    from clearinghouse.inventory import assets
    from clearinghouse.inventory.schemas import AssetCreate
    from clearinghouse.storage import migrate
    from clearinghouse.vulns.intake.osv import import_file
    from clearinghouse.workers.runner import Worker

    path = root / "base.db"
    services = build_services(settings_for(path, root / "var", key))
    migrate.upgrade(services.db)
    system = Principal.system()
    t = time.perf_counter()
    imported = 0
    for name in FILES:
        result = import_file(services.db, system, DATA / name)
        imported += result.created + result.updated
    took_import = time.perf_counter() - t
    t = time.perf_counter()
    drained = Worker(services).run(until_idle=True)  # what the import queued, and the periodic
    took_jobs = time.perf_counter() - t
    with services.db.transaction() as s:
        org = create_org(s, system, OrgCreate(name="Grid operator", kind=OrgKind.operator))
        user = create_user(
            s, system, UserCreate(org_id=org.id, email="ops@grid.example", role=Role.member)
        )
        body = AssetCreate.model_validate(
            {"org_id": org.id, "name": "plant-scada", "sector": "energy", "criticality": "high"}
        )
        asset = assets.create_asset(s, system, body)
    services.db.dispose()
    return {
        "path": path,
        "var": root / "var",
        "org_id": org.id,
        "user_id": user.id,
        "asset_id": asset.id,
        "imported": imported,
        "import_s": took_import,
        "setup_jobs": drained.succeeded,
        "setup_jobs_s": took_jobs,
    }


# --- one repetition, in a forked child --------------------------------------------------------


def _rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def _repetition(base: dict[str, Any], key: str, data: bytes, conn: Any) -> None:
    from sqlalchemy import func, select

    from clearinghouse.accounts.models import OrgKind, Role, Scope
    from clearinghouse.accounts.policy import Principal
    from clearinghouse.container import build_services
    from clearinghouse.inventory.models import Exposure, Sbom
    from clearinghouse.inventory.sboms.intake import read, upload
    from clearinghouse.workers.runner import Worker

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rep.db"
        shutil.copy(base["path"], path)
        if base["var"].is_dir():  # the audit key's anchor, as set up
            shutil.copytree(base["var"], Path(tmp) / "var")
        services = build_services(settings_for(path, Path(tmp) / "var", key))
        operator = Principal(
            user_id=base["user_id"],
            org_id=base["org_id"],
            org_kind=OrgKind.operator,
            role=Role.member,
            scopes=frozenset({Scope.read, Scope.write}),
        )
        worker = Worker(services)
        services.db.ping()  # the pool's first connection, untimed
        read(data, None, services.settings)  # warm: the schema validator, as a running server
        start_rss = _rss_kib()
        t0 = time.perf_counter()
        with services.db.transaction() as s:
            out = upload(s, operator, services.settings, base["asset_id"], data)
        t1 = time.perf_counter()
        jobs = 0
        while worker.run_once():
            jobs += 1
        t2 = time.perf_counter()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with services.db.reading() as s:
            exposures = s.scalar(
                select(func.count())
                .select_from(Exposure)
                .where(Exposure.asset_id == base["asset_id"])
            )
            sbom = s.get(Sbom, out.id)
            assert sbom is not None
            matched = sbom.component_count - (sbom.unmatched_count or 0)
        services.db.dispose()
    conn.send(
        {
            "upload_s": t1 - t0,
            "match_s": t2 - t1,
            "total_s": t2 - t0,
            "jobs": jobs,
            "failed": worker.stats.failed,
            "exposures": int(exposures or 0),
            "components": out.component_count,
            "matchable": matched,
            "peak_growth_mib": max(0, peak - start_rss) / 1024,
        }
    )


def repetition(base: dict[str, Any], key: str, data: bytes) -> dict[str, Any]:
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_repetition, args=(base, key, data, child))
    proc.start()
    result: dict[str, Any] = parent.recv()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="500 components: a smoke run")
    parser.add_argument("--components", type=int, default=None)
    parser.add_argument("--reps", type=int, default=REPS)
    args = parser.parse_args()
    n = args.components or (500 if args.quick else 5_000)
    logging.disable(logging.INFO)  # the worker logs every job; the figures are below
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()

    print(f"machine: {machine()}")
    t = time.perf_counter()
    data, pool = sbom(n)
    print(
        f"SBOM: CycloneDX 1.6 JSON, {n:,} components drawn from {pool:,} real (ecosystem, "
        f"name, version), {len(data) / 1e6:.2f} MB, made in {time.perf_counter() - t:.1f} s"
    )
    with tempfile.TemporaryDirectory() as tmp:
        base = prepare(Path(tmp), key)
        print(
            f"setup: {base['imported']:,} advisories imported in {base['import_s']:.1f} s; "
            f"{base['setup_jobs']:,} jobs they queued run in {base['setup_jobs_s']:.1f} s "
            "(untimed below)"
        )
        peer(data)  # warm: the library's schema loaded, as a running intake would have it
        peer_times = []
        for _ in range(args.reps):
            t = time.perf_counter()
            read = peer(data)
            peer_times.append(time.perf_counter() - t)
        assert read == n, (read, n)
        parse_times = []
        for _ in range(args.reps):
            t = time.perf_counter()
            peer(data, validate=False)
            parse_times.append(time.perf_counter() - t)
        runs = [repetition(base, key, data) for _ in range(args.reps)]

    for r in runs:
        assert r["failed"] == 0, "a job failed"
        assert r["exposures"] == runs[0]["exposures"], "the exposures differ between runs"
    up = median([r["upload_s"] for r in runs])
    match = median([r["match_s"] for r in runs])
    total = median([r["total_s"] for r in runs])
    floor = median(peer_times)
    first = runs[0]
    print(
        f"{args.reps} repetitions, medians; {first['components']:,} components stored, "
        f"{first['matchable']:,} with a matchable purl; {first['jobs']} jobs run after the upload"
    )
    print(f"upload (parse + validate + store, committed): {up * 1000:>9.0f} ms")
    print(f"match + prioritise (the worker, to idle):     {match * 1000:>9.0f} ms")
    print(f"total, upload to exposures:                   {total * 1000:>9.0f} ms")
    print(f"exposures opened:                             {first['exposures']:>9,}")
    print(
        "peak memory growth (RSS, per repetition):     "
        f"{median([r['peak_growth_mib'] for r in runs]):>9.0f} MiB median, "
        f"{max(r['peak_growth_mib'] for r in runs):.0f} MiB max"
    )
    print(
        f"peer, cyclonedx-python-lib alone (json + its 1.6 schema validator + Bom.from_json): "
        f"{floor * 1000:.0f} ms"
    )
    print(
        "  the library's deserialisation alone (json + Bom.from_json, no schema check): "
        f"{median(parse_times) * 1000:.0f} ms"
    )
    print(
        f"ratio to the peer: upload {up / floor:.2f}x, upload to exposures {total / floor:.2f}x "
        "(below 1: faster than the library's own parse and validation)"
    )


if __name__ == "__main__":
    main()
