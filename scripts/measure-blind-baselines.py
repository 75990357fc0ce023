"""Measure the blind baselines of the PoC/patch programs and store them beside the programs.

    .venv/bin/python scripts/measure-blind-baselines.py              # every program
    .venv/bin/python scripts/measure-blind-baselines.py --variants   # and regenerate the PoC variants

Writes src/clearinghouse/evals/battery/data/programs/baselines.json (the figures, with how they
were measured: families/baselines.py) and, with --variants, variants.json (the PoC variants
that the patch scorer runs: judge.generate_variants). Keeps the file's "before" section (the
figures measured on the programs before they were hardened). Needs bubblewrap and gcc; takes a
few minutes.
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


async def main(regenerate_variants: bool) -> None:
    if regenerate_variants:
        found = {}
        for p in PROGRAMS:
            kept = await judge.generate_variants(p)
            print(f"{p.name}: {len(kept)} variants", flush=True)
            found[p.name] = [v.hex() for v in kept]
        (DATA / "variants.json").write_text(
            json.dumps(
                {
                    "method": "judge.generate_variants(program, count=12, seed=0): mutations of "
                    "the reference PoC that crash the vulnerable build with the target signature "
                    "and leave the fixed build clean",
                    "programs": found,
                },
                indent=1,
            )
            + "\n"
        )
    measured = {}
    for p in PROGRAMS:
        b = await baselines.measure(p)
        measured[p.name] = b
        print(
            f"{p.name}: random {b.random_hits}/{b.random_inputs} hits "
            f"({b.random_crashes} crashes of any kind), fuzz {b.fuzz_hits}/{b.fuzz_executions} "
            f"hits ({b.fuzz_crashes} crashes), null patches {b.null_patch_passes}/{b.null_patches}",
            flush=True,
        )
    path = DATA / "baselines.json"
    previous = json.loads(path.read_text()) if path.exists() else {}
    doc = baselines.document(
        measured,
        measured_with={"gcc": _gcc(), "python": platform.python_version()},
        **({"before": previous["before"]} if "before" in previous else {}),
    )
    path.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variants", action="store_true", help="regenerate variants.json too")
    asyncio.run(main(parser.parse_args().variants))
