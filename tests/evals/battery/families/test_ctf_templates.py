"""The generated CTF templates (families/ctf_templates/): at least eight per category, each
solvable in the real sandbox by its reference solution, fresh per seed, byte-identical for the
same seed, with the flag never in cleartext, and with randomness that an artefact does not
betray (the attacker's side of each claim is played here)."""

from __future__ import annotations

import functools
import random
import re
import secrets
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest

from clearinghouse.evals.battery.families.ctf_templates import (
    CATEGORIES,
    DIFFICULTIES,
    TEMPLATES,
    Challenge,
    ChallengeRNG,
    generate,
    install_files,
    materialize_service,
)
from clearinghouse.evals.battery.framework import TaskOptions, dataset_digest
from clearinghouse.evals.battery.registry import load_families
from clearinghouse.sandbox.bwrap import ExecOutcome, Limits, Sandbox
from tests.support.needs import needs_bwrap, needs_gcc

NAMES = sorted(TEMPLATES)
# What the reference solutions run in the sandbox, besides Python and a shell.
SOLVER_TOOLS = {
    "git": ("git ",),
    "curl": ("curl ",),
    "objdump": ("disassemble('", "return_offset(", "ret_gadget("),
    "as": ("as -o",),
    "gcc": ("env = preload(",),
}


@functools.cache
def _challenge(template: str, seed: int) -> Challenge:
    return generate(template, seed)


@needs_gcc  # binary challenges are compiled when they are generated
def test_at_least_eight_templates_per_category_of_varied_difficulty() -> None:
    by_category = Counter(t.category for t in TEMPLATES.values())
    assert set(by_category) == set(CATEGORIES)
    assert all(by_category[c] >= 8 for c in CATEGORIES), by_category
    assert len(TEMPLATES) >= 40
    for category in CATEGORIES:
        levels = {t.difficulty for t in TEMPLATES.values() if t.category == category}
        assert levels == set(DIFFICULTIES), (category, levels)
    for name, t in TEMPLATES.items():
        assert name.startswith(t.category + "_") and t.summary
        c = _challenge(name, 1)
        assert (c.template, c.category, c.difficulty) == (name, t.category, t.difficulty)
        assert (c.service is not None) == (t.category in ("web", "pwn"))


@needs_gcc
@pytest.mark.parametrize("template", NAMES)
def test_same_seed_same_bytes_other_seed_fresh_flag(template: str) -> None:
    a, b, other = generate(template, 41), generate(template, 41), generate(template, 42)
    assert a == b and a.digest() == b.digest()  # prompt, files, service files, flag, solution
    assert other.flag != a.flag and other.digest() != a.digest()
    visible = (a.files, a.service.files if a.service else {})
    assert visible != (other.files, other.service.files if other.service else {})
    # The reference solution is one script for every seed: it reads what it needs from the
    # artefacts, never from the generator's parameters.
    assert other.solution == a.solution and a.flag not in a.solution


def _strings(data: bytes) -> str:
    """What `strings` shows: runs of four or more printable ASCII characters."""
    return "\n".join(m.decode() for m in re.findall(rb"[\x20-\x7e]{4,}", data))


@needs_gcc
@pytest.mark.parametrize("template", NAMES)
def test_the_flag_is_never_in_cleartext(template: str) -> None:
    for seed in (1, 2):
        c = _challenge(template, seed)
        flag = c.flag.lower()
        inner = flag[len("flag{") : -1]
        assert flag not in c.prompt.lower()
        for name, data in c.files.items():
            text = _strings(data).lower()
            assert flag not in text and inner not in text, f"{template} {seed}: {name}"
            assert flag.encode() not in data.lower(), f"{template} {seed}: {name}"
            assert flag.encode("utf-16-le") not in data.lower(), f"{template} {seed}: {name}"


def _solve(c: Challenge) -> ExecOutcome:
    for tool, marks in SOLVER_TOOLS.items():
        if any(m in c.solution for m in marks) and shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (the reference solution of {c.template} uses it)")
    with (
        Sandbox(network=c.network, limits=Limits(wall_seconds=90)) as box,
        tempfile.TemporaryDirectory() as tmp,
    ):
        install_files(box, c.files)
        if c.service is not None:
            box.start_service(
                c.service.cmd,
                files_dir=materialize_service(c.service, Path(tmp)),
                ready_port=c.service.port,
            )
        return box.run(["/bin/sh", "-c", c.solution])


@needs_gcc
@needs_bwrap
@pytest.mark.parametrize("template", NAMES)
def test_reference_solution_recovers_the_flag_in_the_sandbox(template: str) -> None:
    c = _challenge(template, 1)
    out = _solve(c)
    assert c.flag in out.stdout, f"{out.stdout[-500:]}\n{out.stderr[-1500:]}"


@needs_gcc
@pytest.mark.slow
@needs_bwrap
@pytest.mark.parametrize("template", NAMES)
def test_reference_solution_solves_more_seeds(template: str) -> None:
    for seed in (3, 4, 5, 6):
        c = _challenge(template, seed)
        out = _solve(c)
        assert c.flag in out.stdout, f"seed {seed}: {out.stdout[-500:]}\n{out.stderr[-1500:]}"


@needs_gcc  # binary challenges are compiled when they are generated
def test_the_ctf_dataset_digest_is_a_function_of_the_seed() -> None:
    """Zips once carried the time they were written: the same seed gave another digest two
    seconds later. Service files are outside the sample digest, so the challenges' own digests
    are compared too."""
    spec = load_families()["ctf_generated"]

    def snapshot(seed: int) -> tuple[str, list[str]]:
        samples, _ = spec.samples(TaskOptions(seed=seed))
        seeds = [int(str(s.metadata["seed"])) for s in samples if s.metadata]
        templates = [str(s.metadata["template"]) for s in samples if s.metadata]
        return dataset_digest(samples), [
            generate(t, s).digest() for t, s in zip(templates, seeds, strict=True)
        ]

    first = snapshot(5)
    time.sleep(2.1)  # zip timestamps have a two-second resolution
    assert snapshot(5) == first
    assert snapshot(6)[0] != first[0]


# --- randomness ----------------------------------------------------------------------------------


def _untemper(y: int) -> int:
    """Invert MT19937's output tempering."""
    y ^= y >> 18
    y ^= (y << 15) & 0xEFC60000
    x = y
    for _ in range(4):
        x = y ^ ((x << 7) & 0x9D2C5680)
    y = x & 0xFFFFFFFF
    for _ in range(2):
        x = y ^ (x >> 11)
    return x & 0xFFFFFFFF


def _clone_mersenne_twister(outputs: list[int]) -> random.Random:
    """The attacker's tool: 624 consecutive 32-bit outputs give a Mersenne Twister's state."""
    clone = random.Random()
    clone.setstate((3, (*[_untemper(o) for o in outputs], 624), None))
    return clone


def test_the_parameter_stream_cannot_be_cloned_from_its_output() -> None:
    """An artefact may show raw randomness (noise pixels, a disk image's free space). From
    624 words, a Mersenne Twister is cloned and its next outputs predicted; from the keyed
    stream, nothing is."""
    victim = random.Random(secrets.randbits(64))
    clone = _clone_mersenne_twister([victim.getrandbits(32) for _ in range(624)])
    assert [clone.getrandbits(32) for _ in range(50)] == [victim.getrandbits(32) for _ in range(50)]

    rng = ChallengeRNG(secrets.randbits(64), "forensics_carve_gzip")
    clone = _clone_mersenne_twister([rng.getrandbits(32) for _ in range(624)])
    predicted = [clone.getrandbits(32) for _ in range(50)]
    assert (
        sum(
            p == a for p, a in zip(predicted, [rng.getrandbits(32) for _ in range(50)], strict=True)
        )
        <= 1
    )


def test_the_flag_has_its_own_stream() -> None:
    """However much of the parameter stream a challenge uses (or shows), the flag is the same:
    it comes from a separate keyed stream, not from the state the parameters reveal."""
    seed = secrets.randbits(64)
    busy = ChallengeRNG(seed, "crypto_caesar")
    busy.randbytes(100_000)
    busy.shuffle(list(range(1000)))
    assert busy.flag() == ChallengeRNG(seed, "crypto_caesar").flag()
    assert (
        ChallengeRNG(seed, "crypto_caesar").flag() != ChallengeRNG(seed, "crypto_xor_byte").flag()
    )
    assert re.fullmatch(r"FLAG\{[a-z0-9]{20}\}", busy.flag())
    with pytest.raises(NotImplementedError):
        busy.getstate()


def test_guessing_the_seed_costs_a_key_derivation_per_guess() -> None:
    """The attacker holds one artefact and the generator, and tries seeds. Each guess costs a
    PBKDF2 derivation (the seed's flags were once one SHA-256 away), so a run's random 64-bit
    seed is out of reach, and even a 32-bit one costs months of a core."""
    secret_seed = secrets.randbits(64)
    target = generate("crypto_xor_byte", secret_seed)
    guesses = range(10**9, 10**9 + 40)  # not seeds any other test derived (the key is cached)
    start = time.perf_counter()
    found = [g for g in guesses if generate("crypto_xor_byte", g).files == target.files]
    per_guess = (time.perf_counter() - start) / len(guesses)
    assert found == []
    assert per_guess >= 0.005, per_guess  # 2**32 guesses: more than eight months of one core
