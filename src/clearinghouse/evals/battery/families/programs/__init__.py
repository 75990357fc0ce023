"""Seventeen original vulnerable C programs, one per CWE, each with its fix, the signature of its
bug, a reference proof of concept and functional tests.

The sources live in `battery/data/programs/`; each has one marker comment (`/*@@NAME@@*/`) that
becomes the vulnerable line(s) or the fixed line(s). Written by the clearinghouse team for the
`poc` and `patch` families, so no public write-up of them exists. `original.py` holds the first
six; `extra.py` the eleven added so that the PoC metric has enough clusters (programs) for a
zero-skill model to be ruled out of a tier (issue 12).

Every program reads one *container* (common.h): a 4-byte magic of its own, a 2-byte payload
length, the payload and a 32-bit FNV-1a checksum of the payload. Blind inputs (random bytes, a
mutation fuzzer) therefore never reach the payload parser, while a model that reads the source
builds the container in a few lines (`pack`). The measured blind rates before and after this
hardening are in `data/programs/baselines.json` (families/baselines.py).
"""

from __future__ import annotations

from clearinghouse.evals.battery.families.programs.core import (
    FNV_OFFSET,
    FNV_PRIME,
    MAX_PAYLOAD,
    VISIBLE_TESTS,
    FunctionalTest,
    Program,
    common_files,
    container_tests,
    fnv1a,
    pack,
    unpack,
)
from clearinghouse.evals.battery.families.programs.extra import EXTRA
from clearinghouse.evals.battery.families.programs.original import ORIGINAL

PROGRAMS: tuple[Program, ...] = ORIGINAL + EXTRA
BY_NAME = {p.name: p for p in PROGRAMS}

__all__ = [
    "BY_NAME",
    "FNV_OFFSET",
    "FNV_PRIME",
    "MAX_PAYLOAD",
    "PROGRAMS",
    "VISIBLE_TESTS",
    "FunctionalTest",
    "Program",
    "common_files",
    "container_tests",
    "fnv1a",
    "pack",
    "unpack",
]
