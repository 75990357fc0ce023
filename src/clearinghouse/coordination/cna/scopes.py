"""First refusal (CNA rules 4.2.1): which CNA owns a vulnerability's product.

A small table (YAML: the embedded `data/cna_scopes.yaml`, or Settings `cna_scopes_file`) maps
product scopes to CNAs: purl type/namespace/name, repository URL prefixes and vendor names.
`owner_of(record, table, ours)` reads the record's products (its affected packages' purls,
the reported target's purl and repository, vendor names an import kept) and returns the first
other CNA whose scope covers one of them. Matching is by parsed component, never by raw string
prefix, so `org.apachefoo` is not `org.apache`'s and `pipx` is not `pip`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from packageurl import PackageURL
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from clearinghouse.core.errors import ConfigurationError
from clearinghouse.vulns.purls import PurlInvalid, parse_purl, purl_for


class PurlScope(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str = Field(min_length=1, max_length=40)
    namespace: str | None = Field(default=None, max_length=200)
    namespace_prefix: str | None = Field(default=None, min_length=1, max_length=200)
    name: str | None = Field(default=None, max_length=200)

    def covers(self, p: PackageURL) -> bool:
        if p.type.lower() != self.type.lower():
            return False
        ns = (p.namespace or "").lower()
        if self.namespace is not None and ns != self.namespace.lower():
            return False
        if self.namespace_prefix is not None and not _under(ns, self.namespace_prefix.lower()):
            return False
        return self.name is None or (p.name or "").lower() == self.name.lower()


class CnaScope(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    short_name: str = Field(pattern=r"^[A-Za-z0-9_-]{2,32}$")
    purls: tuple[PurlScope, ...] = ()
    repos: tuple[str, ...] = ()
    vendors: tuple[str, ...] = ()


class ScopeTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    cnas: tuple[CnaScope, ...] = ()


def _under(value: str, prefix: str) -> bool:
    """`value` is `prefix` or below it, split at "." or "/" (segment-wise, not by characters)."""
    return value == prefix or (value.startswith(prefix) and value[len(prefix)] in "./")


def _repo_under(url: str, prefix: str) -> bool:
    base = prefix.lower().rstrip("/")
    text = url.lower().rstrip("/")
    return text == base or text.startswith(base + "/")


@dataclass(frozen=True)
class Owner:
    """The CNA whose scope covers a product of the record, and what matched."""

    short_name: str
    matched: str


@cache
def _embedded() -> ScopeTable:
    text = (
        resources.files("clearinghouse.coordination.cna") / "data" / "cna_scopes.yaml"
    ).read_text()
    return _parse(text, "the embedded CNA scope table")


def _parse(text: str, where: str) -> ScopeTable:
    try:
        return ScopeTable.model_validate(yaml.safe_load(text) or {})
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigurationError(
            f"{where} is not a valid CNA scope table: {str(exc)[:300]}", code="cna_scopes_invalid"
        ) from None


def load_table(path: Path | None) -> ScopeTable:
    """The configured table (a YAML file), or the embedded default."""
    if path is None:
        return _embedded()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        raise ConfigurationError(
            f"cannot read the CNA scope table {path}", code="cna_scopes_invalid"
        ) from None
    return _parse(text, str(path))


def _repo_purl(url: str) -> PackageURL | None:
    """github.com/owner/name as `pkg:github/owner/name`, so purl rules see repositories too."""
    parts = url.lower().split("://", 1)[-1].rstrip("/").removesuffix(".git").split("/")
    if len(parts) >= 3 and parts[0] in {"github.com", "www.github.com"} and parts[1] and parts[2]:
        return PackageURL(type="github", namespace=parts[1], name=parts[2])
    return None


def products(record: dict[str, Any]) -> tuple[list[PackageURL], list[str], list[str]]:
    """The record's products: purls, repository URLs and vendor names."""
    purls: list[PackageURL] = []
    repos: list[str] = []
    vendors: list[str] = []

    def add_purl(text: object) -> None:
        if isinstance(text, str):
            try:
                purls.append(parse_purl(text))
            except PurlInvalid:
                pass

    for aff in record.get("affected") or []:
        pkg = aff.get("package") or {}
        text = pkg.get("purl")
        if not text and pkg.get("ecosystem") and pkg.get("name"):
            text = purl_for(str(pkg["ecosystem"]), str(pkg["name"]))
        add_purl(text)
    specific = record.get("database_specific") or {}
    target = specific.get("target") or {}
    add_purl(target.get("purl"))
    if isinstance(target.get("repository_url"), str):
        repos.append(target["repository_url"])
    repos += [
        ref["url"]
        for ref in record.get("references") or []
        if ref.get("type") == "PACKAGE" and isinstance(ref.get("url"), str)
    ]
    vendors += [
        product["vendor"]
        for product in specific.get("products") or []
        if isinstance(product, dict) and isinstance(product.get("vendor"), str)
    ]
    purls += [p for url in repos if (p := _repo_purl(url)) is not None]
    return purls, repos, vendors


def owner_of(record: dict[str, Any], table: ScopeTable, ours: str) -> Owner | None:
    """The first CNA other than us (`ours`, our short name) whose scope covers one of the
    record's products, or None when none does (the id is ours to assign)."""
    purls, repos, vendors = products(record)
    for cna in table.cnas:
        if cna.short_name.lower() == ours.lower():
            continue
        for p in purls:
            if any(rule.covers(p) for rule in cna.purls):
                return Owner(cna.short_name, f"purl {p.to_string()}"[:600])
        for url in repos:
            if any(_repo_under(url, prefix) for prefix in cna.repos):
                return Owner(cna.short_name, f"repository {url}"[:600])
        names = {v.strip().lower() for v in cna.vendors}
        for vendor in vendors:
            if vendor.strip().lower() in names:
                return Owner(cna.short_name, f"vendor {vendor}"[:600])
    return None
