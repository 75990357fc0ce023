"""The OSV 1.7 record, validated with pydantic, written by hand after the OSV JSON schema
(ossf/osv-schema, `validation/schema.json`; osv.dev's own `osv` package bundles it, but pins
dependencies this project cannot take, such as `packaging<22`): the required fields, types, timestamp pattern, event shapes and range rules, and the enumerations
of reference, credit and severity types. Two deliberate differences: ids may carry any
database prefix (the schema lists the known home databases; ours, `CH`, is not among them),
and ecosystems are not limited to the schema's list, so a new ecosystem is not refused. Also
checked here, beyond the schema: nesting depth, NUL characters and lone surrogates."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from clearinghouse.core.schemas import unstorable_text
from clearinghouse.vulns.purls import PurlInvalid, parse_purl

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*-[A-Za-z0-9._:-]+$")
_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$"


# The ecosystems of the OSV schema (ossf/osv-schema `validation/schema.json`, `$defs.ecosystemName`,
# at commit 51b8156b; the pinned copy under tests/data/osv/ checks this list stays in step). OSV
# ecosystem names are case-sensitive; an ecosystem may carry a `:suffix` ("Debian:12").
OSV_ECOSYSTEMS = frozenset(
    {
        "AlmaLinux", "Alpaquita", "Alpine", "Android", "Azure Linux",
        "BellSoft Hardened Containers", "Bioconductor", "Bitnami", "Chainguard", "CleanStart",
        "ConanCenter", "CRAN", "crates.io", "Debian", "Docker Hardened Images", "Echo",
        "FreeBSD", "GHC", "GitHub Actions", "Go", "Hackage", "Hex", "Julia", "Kubernetes",
        "Linux", "Mageia", "Maven", "MinimOS", "npm", "NuGet", "opam", "openEuler", "openSUSE",
        "OSS-Fuzz", "Packagist", "Photon OS", "Pub", "PyPI", "Red Hat", "Rocky Linux", "Root",
        "RubyGems", "SUSE", "SwiftURL", "TuxCare", "Ubuntu", "VSCode", "Wolfi",
    }
)  # fmt: skip
_BY_FOLDED = {e.casefold(): e for e in OSV_ECOSYSTEMS}


def ecosystem_problem(ecosystem: str) -> str | None:
    """Why `ecosystem` is not an OSV ecosystem name (None when it is): unknown, miscased, or
    with an empty `:suffix`."""
    base, colon, suffix = ecosystem.partition(":")
    if base in OSV_ECOSYSTEMS and (not colon or suffix):
        return None
    if colon and not suffix:
        return f"ecosystem {ecosystem!r} has an empty suffix"
    known = _BY_FOLDED.get(base.casefold())
    hint = (
        f"; did you mean {known + colon + suffix!r}? (ecosystems are case-sensitive)"
        if known
        else ""
    )
    return f"unknown ecosystem {ecosystem[:80]!r}{hint}"


# The OSV schema's id pattern (`$defs.prefix`): a registered home database prefix, or `x_` for
# one not (yet) registered, as ours is. Ids are served in this form (`osv_id`).
_SCHEMA_ID = re.compile(
    r"^(x_|(ASB-A|PUB-A|ALPINE|ALSA|ALBA|ALEA|AZL|BELL|BIT|CGA|CLEANSTART|CLSA|CURL|CVE|DEBIAN|"
    r"DHI|DRUPAL|DSA|DLA|ELA|DTSA|ECHO|EEF|FreeBSD|GHSA|GO|GSD|HSEC|JLSEC|KUBE|LBSEC|LSN|MAL|"
    r"MINI|MGASA|OESA|OSEC|OSV|openSUSE-SU|PHSA|PSF|PYSEC|RHBA|RHEA|RHSA|RLSA|RXSA|RSEC|ROOT|"
    r"RUSTSEC|SUSE-[SRFO]U|UBUNTU|USN|V8)-)"
)
UNREGISTERED_PREFIX = "x_"


def osv_id(stored_id: str) -> str:
    """The id a record is served under: its own when the OSV schema's pattern admits it, else
    with the schema's prefix for unregistered databases (`CH-2026-00001` → `x_CH-2026-00001`).
    The stored id stays resolvable (`stored_id`)."""
    return stored_id if _SCHEMA_ID.match(stored_id) else UNREGISTERED_PREFIX + stored_id


def stored_id(served_id: str) -> str:
    """The inverse of `osv_id`."""
    if served_id.startswith(UNREGISTERED_PREFIX):
        inner = served_id[len(UNREGISTERED_PREFIX) :]
        if not _SCHEMA_ID.match(inner):
            return inner
    return served_id


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Package(_Open):
    ecosystem: str = Field(min_length=1, max_length=80)
    name: str = Field(min_length=1, max_length=300)
    purl: str | None = Field(default=None, max_length=500)

    @field_validator("purl")
    @classmethod
    def _purl(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                parse_purl(v)
            except PurlInvalid as exc:
                raise ValueError(f"{exc.detail} [purl_invalid]") from None
        return v


class Range(_Open):
    type: Literal["SEMVER", "ECOSYSTEM", "GIT"]
    repo: str | None = None
    events: list[dict[str, str]] = Field(min_length=1)

    @model_validator(mode="after")
    def _rules(self) -> Range:
        kinds = []
        for e in self.events:
            if len(e) != 1 or next(iter(e)) not in {
                "introduced",
                "fixed",
                "last_affected",
                "limit",
            }:
                raise ValueError(
                    f"an event has exactly one of introduced/fixed/last_affected/limit, got {sorted(e)}"
                )
            kinds.append(next(iter(e)))
        if "introduced" not in kinds:
            raise ValueError("a range needs an introduced event")
        if "fixed" in kinds and "last_affected" in kinds:
            raise ValueError("a range may not have both fixed and last_affected events")
        if self.type == "GIT" and not self.repo:
            raise ValueError("a GIT range needs a repo")
        return self


class Severity(_Open):
    type: Literal["CVSS_V2", "CVSS_V3", "CVSS_V4"]
    score: str = Field(max_length=500)


class Affected(_Open):
    package: Package | None = None
    severity: list[Severity] | None = None
    ranges: list[Range] = Field(default_factory=list)
    versions: list[str] = Field(default_factory=list)


class Reference(_Open):
    type: Literal[
        "ADVISORY",
        "ARTICLE",
        "DETECTION",
        "DISCUSSION",
        "REPORT",
        "FIX",
        "INTRODUCED",
        "GIT",
        "PACKAGE",
        "EVIDENCE",
        "WEB",
    ]
    url: str = Field(min_length=1, max_length=4000)


class Credit(_Open):
    name: str = Field(min_length=1, max_length=1000)
    contact: list[str] | None = None
    type: (
        Literal[
            "FINDER",
            "REPORTER",
            "ANALYST",
            "COORDINATOR",
            "REMEDIATION_DEVELOPER",
            "REMEDIATION_REVIEWER",
            "REMEDIATION_VERIFIER",
            "TOOL",
            "SPONSOR",
            "OTHER",
        ]
        | None
    ) = None


class Record(_Open):
    """An OSV record. Unknown fields are kept (OSV allows `database_specific` and friends)."""

    schema_version: str | None = None
    id: str = Field(min_length=3, max_length=120)
    modified: str = Field(pattern=_TIMESTAMP)
    published: str | None = Field(default=None, pattern=_TIMESTAMP)
    withdrawn: str | None = Field(default=None, pattern=_TIMESTAMP)
    aliases: list[str] = Field(default_factory=list)
    related: list[str] = Field(default_factory=list)
    summary: str = Field(default="", max_length=10_000)
    details: str = Field(default="", max_length=1_000_000)
    severity: list[Severity] = Field(default_factory=list)
    affected: list[Affected] = Field(default_factory=list)
    references: list[Reference] = Field(default_factory=list)
    credits: list[Credit] | None = None

    @field_validator("id")
    @classmethod
    def _id_shape(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError("id must look like PREFIX-IDENTIFIER")
        return v

    @field_validator("modified", "published", "withdrawn")
    @classmethod
    def _real_instant(cls, v: str | None) -> str | None:
        """The pattern admits days that do not exist (2026-02-30, year 0, hour 25); they
        once failed the import after validation, aborting it whole."""
        if v is not None:
            try:
                datetime.fromisoformat(v.replace("Z", "+00:00"))
            except ValueError:
                raise ValueError("not a real date and time") from None
        return v

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        """Nesting depth, NUL characters and lone surrogates (which neither database stores).
        The text checks run once over the serialised record, in C, not string by string."""

        try:
            text = orjson.dumps(data)  # refuses lone surrogates, which no database stores
        except TypeError as exc:
            reason = str(exc)
            if "surrogates" in reason:
                reason = "text must be valid Unicode (no lone surrogates)"
            raise ValueError(reason) from None
        if deeper_than(data, MAX_DEPTH):
            raise ValueError("the record nests too deeply")
        if b"\\u0000" in text and (nul := _first_unstorable(data)):
            raise ValueError(nul)
        return data


def canonical(data: Any) -> dict[str, Any]:
    """A record validated against the model, in the form we store and serve: JSON types, no
    nulls, the model's defaults filled in. Raises pydantic's ValidationError."""
    return Record.model_validate(data).model_dump(mode="json", exclude_none=True)


MAX_DEPTH = 32


def deeper_than(data: Any, limit: int) -> bool:
    """Whether objects and arrays nest more than `limit` levels, walked level by level over
    the containers only (an earlier scan of the JSON text was slower, and miscounted strings
    that end in an escaped backslash)."""
    level = [data] if isinstance(data, dict | list) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        level = [
            child
            for container in level
            for child in (container.values() if isinstance(container, dict) else container)
            if isinstance(child, dict | list)
        ]
    return False


def _first_unstorable(x: Any) -> str | None:
    if isinstance(x, str):
        return unstorable_text(x)
    items = [*x.keys(), *x.values()] if isinstance(x, dict) else x if isinstance(x, list) else []
    for v in items:
        if (reason := _first_unstorable(v)) is not None:
            return reason
    return None
