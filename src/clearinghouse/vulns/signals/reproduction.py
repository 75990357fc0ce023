"""What a validation (`vulns/validation`, `ValidationResult`) says about a report: was it
reproduced, is the reproduction believable, and is the bug already fixed.

The two verdicts are read together (docs/validation.md): the run command is the reporter's, so
a recipe can print a sanitizer report without exercising the target. What the fixed build says
depends on what the fixed source is:

- a **known fix** (the first fixed release, derived from an advisory: `fixed_source.derived_from`;
  another released version named by purl; or a patch the recipe carries as a directory or an
  archive): `fixed_confirmed` means the fix removes it; `still_reproduces` means the PoC's output
  survives the fix, so either it is not the bug's output (a forged report) or the fix is
  incomplete: the reproduction is `suspect`;
- the package's **latest release** (the caller says so: `fixed_is_latest_release=True`):
  `fixed_confirmed` means the bug is already fixed in the latest release; `still_reproduces`
  means it is live there, which makes the reproduction no less credible.

Already fixed is true when the PoC reproduces on the named version and not on a *released* fixed
source (the latest release, or a release named by purl); a patch that is not released says
nothing about releases, and that stays unknown. Frames of the crash signature that the source
does not have (`grounding.frame_claims`) make a reproduction suspect too.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from clearinghouse.vulns.signals.grounding import ClaimCheck
from clearinghouse.vulns.validation.schemas import FixedVerdict, ValidationResult, Verdict


class Reproduction(StrEnum):
    reproduced = "reproduced"  # the PoC shows it on the named version, believably
    suspect = "suspect"  # it "reproduced", but the output survives a known fix, or its frames
    # are not in the source
    not_reproduced = "not_reproduced"  # the PoC ran and did not show it
    inconclusive = "inconclusive"  # the build failed or the harness could not tell
    not_run = "not_run"  # no validation: unknown


class ReproductionAssessment(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    state: Reproduction
    already_fixed: bool | None  # None: not measured
    evidence: list[str]
    fixed_evidence: list[str]


def _fixed_source_name(result: ValidationResult) -> str:
    src = result.fixed_source
    if src is None:
        return "the fixed source"
    if src.derived_from:
        return f"{src.ref} (the first fixed release, from {src.derived_from})"
    return src.ref


def assess(
    result: ValidationResult | None,
    *,
    fixed_is_latest_release: bool | None = None,
    frames: list[ClaimCheck] | None = None,
) -> ReproductionAssessment:
    """Read a validation result (None: none was run)."""
    early: tuple[Reproduction, str] | None = None
    if result is None:
        early = (Reproduction.not_run, "no validation has run")
    elif result.verdict is Verdict.error:
        early = (
            Reproduction.inconclusive,
            f"validation error ({result.error_code or 'unknown'}): not a verdict",
        )
    elif result.verdict is Verdict.build_failed:
        early = (Reproduction.inconclusive, "the named version did not build")
    elif result.verdict is Verdict.not_reproduced:
        early = (
            Reproduction.not_reproduced,
            f"the PoC ran on the named version and did not show {result.expect or 'it'}",
        )
    if early is not None or result is None:
        state, why = early or (Reproduction.not_run, "")
        return ReproductionAssessment(
            state=state, already_fixed=None, evidence=[why], fixed_evidence=[]
        )
    shown = result.signature or result.crash_type or result.expect or "the expected outcome"
    evidence = [f"reproduced on the named version: {shown}"]
    state = Reproduction.reproduced
    missing = [f.claim for f in frames or [] if not f.found]
    if missing:
        state = Reproduction.suspect
        evidence.append(
            "the crash signature names frames the source does not have: " + ", ".join(missing)
        )
    fixed = _fixed_source_name(result)
    released = fixed_is_latest_release or (
        result.fixed_source is not None
        and (result.fixed_source.kind == "purl" or result.fixed_source.derived_from is not None)
    )
    already_fixed: bool | None = None
    fixed_evidence: list[str]
    if result.fixed_verdict is FixedVerdict.fixed_confirmed:
        if fixed_is_latest_release:
            already_fixed = True
            fixed_evidence = [f"does not reproduce on the latest release, {fixed}"]
        elif released:
            already_fixed = True
            fixed_evidence = [f"does not reproduce on {fixed}, a release"]
        else:
            fixed_evidence = [
                f"the patch in {fixed} removes it; whether a release has the fix is not known"
            ]
    elif result.fixed_verdict is FixedVerdict.still_reproduces:
        if fixed_is_latest_release:
            already_fixed = False
            fixed_evidence = [f"still reproduces on the latest release, {fixed}"]
        else:
            state = Reproduction.suspect
            fixed_evidence = [
                f"the same output shows on {fixed}, which is known to fix it: the output is not "
                "the bug's (a forged report), or the fix is incomplete"
            ]
    elif result.fixed_verdict is FixedVerdict.build_failed:
        fixed_evidence = [f"{fixed} did not build"]
    else:
        fixed_evidence = ["no fixed source was run"]
    return ReproductionAssessment(
        state=state,
        already_fixed=already_fixed,
        evidence=evidence,
        fixed_evidence=fixed_evidence,
    )
