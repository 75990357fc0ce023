"""What every SBOM reader returns, and the intake's errors."""

from __future__ import annotations

from dataclasses import dataclass

from clearinghouse.core.errors import InvalidInput


class SbomInvalid(InvalidInput):
    """The document is not a valid SBOM of a supported format and version; `detail` says why
    (the first schema or validation error, with where it is)."""

    default_code = "sbom_invalid"


class SbomTooLarge(InvalidInput):
    default_code = "sbom_too_large"


@dataclass(frozen=True)
class RawComponent:
    """One component as the document states it (nothing normalised yet)."""

    name: str | None
    version: str | None
    purl: str | None
    bom_ref: str | None


@dataclass(frozen=True)
class ParsedSbom:
    format: str  # cyclonedx | spdx
    spec_version: str
    media: str  # json | xml | tag-value
    components: list[RawComponent]


def check_count(n: int, limit: int) -> None:
    if n > limit:
        raise SbomTooLarge(
            f"the SBOM lists {n} components; at most {limit} are accepted "
            "(CLEARINGHOUSE_INVENTORY_SBOM_MAX_COMPONENTS)"
        )
