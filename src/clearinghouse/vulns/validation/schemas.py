"""The result of a validation: what `clearinghouse validate --json` prints, and what the API will
store on a report."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

EVIDENCE_CHARS = 8000  # the most of a sanitizer report or an output kept as evidence


class Verdict(StrEnum):
    reproduced = "reproduced"  # the PoC showed what `expect` says on the vulnerable build
    not_reproduced = "not_reproduced"  # it ran and did not
    build_failed = "build_failed"  # the vulnerable source did not build
    error = "error"  # the harness could not tell (sandbox broken, index unreachable, ...)


class FixedVerdict(StrEnum):
    fixed_confirmed = "fixed_confirmed"  # the same PoC does not show it on the fixed build
    still_reproduces = "still_reproduces"  # it does
    not_run = "not_run"  # no fixed source, or nothing to confirm (not reproduced, error)
    build_failed = "build_failed"  # the fixed source did not build


class SourceRef(BaseModel):
    """Which source was built: a directory or archive of the recipe, or a released package."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["directory", "archive", "purl"]
    ref: str  # the path in the recipe, or the purl
    sha256: str  # the archive's sha256 (archives, packages) or the tree's (directories)
    tree_sha256: str  # the extracted tree's content hash: what the build cache is keyed by
    derived_from: str | None = None  # for a fixed source: the OSV record it was derived from


class Timings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    build_seconds: float | None = None
    run_seconds: float | None = None
    fixed_build_seconds: float | None = None
    fixed_run_seconds: float | None = None
    total_seconds: float = 0.0


class ValidationResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: Verdict
    fixed_verdict: FixedVerdict
    crash_type: str | None = None  # the sanitizer's error type, the exception's name, "timeout"
    signature: str | None = None  # `sandbox.signature.crash_signature()` of a sanitizer report
    evidence: str = Field(default="", max_length=EVIDENCE_CHARS)
    expect: str = ""
    exit_code: int | None = None
    timed_out: bool = False
    fixed_signature: str | None = None
    fixed_evidence: str | None = Field(default=None, max_length=EVIDENCE_CHARS)
    fixed_exit_code: int | None = None
    source: SourceRef | None = None
    fixed_source: SourceRef | None = None
    build_cached: bool | None = None  # None: nothing to build (the recipe has no build command)
    fixed_build_cached: bool | None = None
    error_code: str | None = None  # with verdict `error`: why (sandbox_broken, bwrap_missing, ...)
    advisories: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    timings: Timings = Field(default_factory=Timings)
