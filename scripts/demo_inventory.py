"""`make demo`, operator inventories (issue 15): an energy operator registers two assets and
uploads their SBOMs: one of this project's own virtual environment (made by `cyclonedx-py
environment`, a real environment) and one of a legacy service's pinned requirements (made by
`cyclonedx-py requirements examples/sbom/legacy-requirements.txt`). The worker matches them
against the imported advisories and prioritises each exposure by CISA's SSVC tree; the operator
reads its exposures, Act first, with the CLI's `inventory exposures --asset ID --json`.

Imported by scripts/demo.py; `python scripts/demo.py inventory` runs it on its own (it imports
the PyPA advisories first, about a minute)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CYCLONEDX_PY = Path(sys.executable).with_name("cyclonedx-py")
LEGACY = ROOT / "examples" / "sbom" / "legacy-requirements.txt"


def make_sboms(var: Path) -> tuple[Path, Path]:
    venv = var / "sbom-venv.cdx.json"
    legacy = var / "sbom-legacy.cdx.json"
    subprocess.run(
        [str(CYCLONEDX_PY), "environment", "--of", "JSON", "-o", str(venv), sys.executable],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [str(CYCLONEDX_PY), "requirements", "--of", "JSON", "-o", str(legacy), str(LEGACY)],
        check=True,
        capture_output=True,
    )
    return venv, legacy


def inventory_part(  # type: ignore[no-untyped-def]
    step: Callable[[str], None],
    call,
    join: Callable[[str, str], str],
    cli: Callable[..., Any],
    var: Path,
) -> None:
    step(
        "Inventory: an energy operator registers two assets (SSVC deployer context: exposure, "
        "mission and well-being impact)"
    )
    grid = call("POST", "/api/v1/orgs", json={"name": "Regional Grid", "kind": "operator"})
    token = join(grid["id"], "ot-security@grid.example")
    assets = {}
    for name, exposure, mission in (
        ("clearinghouse build host", "controlled", "degraded"),
        ("SCADA data historian", "open", "mef_failure"),
    ):
        assets[name] = call(
            "POST",
            "/api/v1/assets",
            token=token,
            json={
                "org_id": grid["id"],
                "name": name,
                "sector": "energy",
                "criticality": "high",
                "exposure": exposure,
                "mission_impact": mission,
                "wellbeing_impact": "material",
            },
        )
        print(f"asset {assets[name]['id']}: {name} (exposure {exposure}, mission {mission})")

    step(
        "Each asset's SBOM: cyclonedx-py over this project's virtual environment, and over the "
        "historian's pinned requirements; uploaded with `inventory upload --json`"
    )
    venv, legacy = make_sboms(var)
    for (name, asset), sbom in zip(assets.items(), (venv, legacy), strict=True):
        up = cli(token, "inventory", "upload", "--asset", asset["id"], str(sbom))
        print(
            f"{name}: SBOM {up['id']} v{up.get('seq', 1)}, {up['component_count']} components, "
            f"{up['unmatched_count']} unmatched"
        )

    step("The worker matches the components against the advisories and prioritises (SSVC)")
    print(cli(None, "worker", "--until-idle"))

    step("The operator's exposures, Act first (`inventory exposures --asset ID --json`)")
    for name, asset in assets.items():
        rows = cli(token, "inventory", "exposures", "--asset", asset["id"])
        by = Counter(r["ssvc"] for r in rows)
        print(f"{name}: {len(rows)} exposures, SSVC {dict(by)}")
        for r in rows[:8]:
            alias = next((a for a in r["aliases"] if a.startswith("CVE-")), "")
            print(
                f"  {r['ssvc'] or '-':<7} {r['severity']:<8} kev={str(r['kev']).lower():<5} "
                f"{r['vuln_id']:<20} {alias:<16} {r['purl']:<34} fixed in {r['fixed_in'] or '-':<8} "
                f"due {(r['due_at'] or '-')[:10]}"
            )
        ranks = [("Act", "Attend", "Track*", "Track", None).index(r["ssvc"]) for r in rows]
        if ranks != sorted(ranks):
            raise SystemExit("the exposures are not ordered by SSVC decision")
    metrics = call("GET", "/api/v1/inventory/metrics", token=token)
    print(f"metrics: {json.dumps(metrics)[:400]}")
