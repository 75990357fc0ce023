"""Measure the blind baselines of the PoC/patch programs and store them beside the programs.

    .venv/bin/python scripts/measure-blind-baselines.py              # every program
    .venv/bin/python scripts/measure-blind-baselines.py --variants   # and regenerate the PoC variants
    .venv/bin/python scripts/measure-blind-baselines.py --variants --program tree --program csv

Measures, per program: random inputs, a blind mutation fuzzer, random payloads packed in a valid
container (an attacker that read common.h but not the program; recorded beside the blind
figures, not part of the blind rate) and null patches. Writes
src/clearinghouse/evals/battery/data/programs/baselines.json (the figures, with how they
were measured: families/baselines.py) and, with --variants, variants.json (the PoC variants
that the patch scorer runs: judge.generate_variants). Keeps the file's "before" section (the
figures measured on the programs before they were hardened). With --program, measures (and
regenerates) only the programs named and keeps the stored rows of the others. Needs bubblewrap
and gcc; takes a few minutes per program.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from clearinghouse.evals.battery.families import baselines, judge  # noqa: E402
from clearinghouse.evals.battery.families.programs import PROGRAMS  # noqa: E402

DATA = ROOT / "src" / "clearinghouse" / "evals" / "battery" / "data" / "programs"


def _gcc() -> str:
    gcc = shutil.which("gcc")
    if gcc is None:
        sys.exit("gcc is not installed")
    return subprocess.run([gcc, "--version"], capture_output=True, text=True).stdout.split("\n")[0]


def _stored(name: str) -> dict[str, Any]:
    path = DATA / name
    data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    return data


async def main(regenerate_variants: bool, only: list[str]) -> None:
    unknown = sorted(set(only) - {p.name for p in PROGRAMS})
    if unknown:
        sys.exit(f"no such program: {', '.join(unknown)}")
    chosen = [p for p in PROGRAMS if not only or p.name in only]
    previous = _stored("baselines.json")
    if regenerate_variants:
        kept = _stored("variants.json").get("programs", {})
        found = {p.name: kept[p.name] for p in PROGRAMS if p.name in kept and only}
        for p in chosen:
            generated = await judge.generate_variants(p)
            print(f"{p.name}: {len(generated)} variants", flush=True)
            found[p.name] = [v.hex() for v in generated]
        (DATA / "variants.json").write_text(
            json.dumps(
                {
                    "method": "judge.generate_variants(program, count=12, seed=0): mutations of "
                    "the reference PoC that crash the vulnerable build with the target signature "
                    "and leave the fixed build clean",
                    "programs": {p.name: found[p.name] for p in PROGRAMS if p.name in found},
                },
                indent=1,
            )
            + "\n"
        )
    rows = previous.get("programs", {})
    measured = {
        p.name: baselines.ProgramBaseline(**rows[p.name])
        for p in PROGRAMS
        if only and p.name in rows and p.name not in only
    }
    for p in chosen:
        b = await baselines.measure(p)
        measured[p.name] = b
        print(
            f"{p.name}: random {b.random_hits}/{b.random_inputs} hits "
            f"({b.random_crashes} crashes of any kind), fuzz {b.fuzz_hits}/{b.fuzz_executions} "
            f"hits ({b.fuzz_crashes} crashes), random payloads in a valid container "
            f"{b.container_hits}/{b.container_inputs} hits ({b.container_crashes} crashes), "
            f"null patches {b.null_patch_passes}/{b.null_patches}",
            flush=True,
        )
    path = DATA / "baselines.json"
    doc = baselines.document(
        {p.name: measured[p.name] for p in PROGRAMS if p.name in measured},
        measured_with={"gcc": _gcc(), "python": platform.python_version()},
        **({"before": previous["before"]} if "before" in previous else {}),
    )
    path.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variants", action="store_true", help="regenerate variants.json too")
    parser.add_argument(
        "--program", action="append", default=[], help="measure only this program (repeatable)"
    )
    args = parser.parse_args()
    asyncio.run(main(args.variants, args.program))
