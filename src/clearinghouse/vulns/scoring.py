"""CVSS scoring through the `cvss` library (Red Hat's, maintained): base scores and
severities for CVSS 3.x and 4.0 vectors, with a clear error for a malformed vector."""

from __future__ import annotations

from dataclasses import dataclass

from cvss import CVSS3, CVSS4
from cvss.exceptions import CVSSError

from clearinghouse.core.errors import InvalidInput


class InvalidVector(InvalidInput):
    default_code = "cvss_invalid"


@dataclass(frozen=True)
class CvssScore:
    version: str  # "3.0" | "3.1" | "4.0"
    vector: str
    base_score: float
    severity: str  # None | Low | Medium | High | Critical


def score(vector: str) -> CvssScore:
    """Score a CVSS 3.x or 4.0 vector string (the `CVSS:x.y/...` prefix decides which)."""
    text = vector.strip()
    try:
        if text.startswith("CVSS:4.0/"):
            c4 = CVSS4(text)
            return CvssScore("4.0", c4.clean_vector(), float(c4.base_score), str(c4.severity))
        if text.startswith(("CVSS:3.0/", "CVSS:3.1/")):
            c3 = CVSS3(text)
            return CvssScore(
                text[5:8], c3.clean_vector(), float(c3.scores()[0]), str(c3.severities()[0])
            )
    except CVSSError as exc:
        raise InvalidVector(f"{vector!r} is not a valid CVSS vector: {exc}") from None
    raise InvalidVector(
        f"{vector!r} is not a CVSS 3.x or 4.0 vector (it must start with CVSS:3.1/ or CVSS:4.0/)"
    )
