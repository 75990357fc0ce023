"""The product tree of a CSAF export, and each vulnerability's product statuses.

Two sources: the tree a CSAF document came with (kept at import under
`database_specific.csaf`, with its statuses, remediations, threats and flags, so that
`known_not_affected` and its justification survive), or one derived from the OSV record
(packages and their ranges, Go modules, and a git repository at a commit)."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from clearinghouse.vulns.publication.common import intervals
from clearinghouse.vulns.purls import ECOSYSTEM_PURL_TYPES, purl_for

# The words and operators of CSAF mandatory test 6.1.31 (a version range in a product version).
RANGE_WORDS = re.compile(
    r"(<|>|\b(after|all|before|earlier|later|prior|versions?)\b)", re.IGNORECASE
)


@dataclass
class Products:
    """A product tree and what the vulnerability's sections say about its products."""

    tree: dict[str, Any]
    status: dict[str, list[str]] = field(default_factory=dict)
    remediations: list[dict[str, Any]] = field(default_factory=list)
    threats: list[dict[str, Any]] = field(default_factory=list)
    flags: list[dict[str, Any]] = field(default_factory=list)
    category: str | None = None  # the category of the CSAF document it was kept from

    @property
    def affected(self) -> list[str]:
        return [
            pid
            for key in ("known_affected", "first_affected", "last_affected")
            for pid in self.status.get(key, [])
        ]


def _vers(eco: str, introduced: str, fixed: str | None, last: str | None) -> str:
    kind = ECOSYSTEM_PURL_TYPES.get(eco, "generic")
    parts = [] if introduced in ("0", "") else [f">={introduced}"]
    if fixed:
        parts.append(f"<{fixed}")
    elif last:
        parts.append(f"<={last}")
    return f"vers:{kind}/" + ("|".join(parts) if parts else "*")


def _repo_purl(repo: str, commit: str) -> str:
    """A purl for a repository at a commit: `pkg:github/owner/name@commit` for GitHub,
    else `pkg:generic/<name>@<commit>?vcs_url=git+<repo>` (the purl spec's qualifier)."""
    parts = urlsplit(repo)
    path = parts.path.strip("/").removesuffix(".git")
    if parts.hostname == "github.com" and path.count("/") == 1:
        return f"pkg:github/{path.lower()}@{commit}"
    name = quote(path.rsplit("/", 1)[-1] or parts.hostname or "repository", safe="")
    return f"pkg:generic/{name}@{commit}?vcs_url={quote('git+' + repo, safe='')}"


class _Builder:
    def __init__(self) -> None:
        self.vendors: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(
            lambda: defaultdict(list)
        )
        self.count = 0
        self.affected: list[str] = []
        self.fixed: list[str] = []

    def add(
        self, vendor: str, product: str, category: str, name: str, purl: str | None, fixed: bool
    ) -> None:
        self.count += 1
        p: dict[str, Any] = {"name": f"{product} {name}", "product_id": f"CSAFPID-{self.count:04d}"}
        if purl:
            p["product_identification_helper"] = {"purl": purl}
        (self.fixed if fixed else self.affected).append(p["product_id"])
        self.vendors[vendor][product].append({"category": category, "name": name, "product": p})

    def tree(self) -> dict[str, Any]:
        return {
            "branches": [
                {
                    "category": "vendor",
                    "name": vendor,
                    "branches": [
                        {"category": "product_name", "name": name, "branches": versions}
                        for name, versions in products.items()
                    ],
                }
                for vendor, products in self.vendors.items()
            ]
        }


def _git_repos(record: dict[str, Any]) -> list[tuple[str, str | None, str | None]]:
    """(repository, affected commit, fixed commit) from GIT ranges and a report's target."""
    found: list[tuple[str, str | None, str | None]] = []
    for aff in record.get("affected") or []:
        for rng in aff.get("ranges") or []:
            if rng.get("type") != "GIT" or not rng.get("repo"):
                continue
            introduced = fixed = None
            for event in rng.get("events") or []:
                (kind, value), *_ = event.items()
                if kind == "introduced" and value != "0":
                    introduced = value
                elif kind in ("fixed", "last_affected"):
                    if kind == "fixed":
                        fixed = value
                    else:
                        introduced = introduced or value
            found.append((rng["repo"], introduced, fixed))
    target = (record.get("database_specific") or {}).get("target") or {}
    repo, commit = target.get("repository_url"), target.get("commit")
    if repo and commit and not any(r == repo and a == commit for r, a, _ in found):
        found.append((repo, commit, None))
    return found


def derived(record: dict[str, Any]) -> Products:
    """Branches vendor (ecosystem or git host) → product_name → version or version range."""
    b = _Builder()
    for aff in record.get("affected") or []:
        pkg = aff.get("package")
        if not pkg:
            continue
        eco, name = pkg["ecosystem"], pkg["name"]
        for introduced, fixed, last in intervals(aff):
            rng = _vers(eco, introduced, fixed, last)
            b.add(eco, name, "product_version_range", rng, purl_for(eco, name), False)
            if fixed:
                b.add(eco, name, "product_version", fixed, purl_for(eco, name, fixed), True)
        for v in aff.get("versions") or []:
            if RANGE_WORDS.search(v):  # a range written as a version (CSAF 6.1.31)
                b.add(eco, name, "product_version_range", v, purl_for(eco, name), False)
            else:
                b.add(eco, name, "product_version", v, purl_for(eco, name, v), False)
    for repo, first, fixed_at in _git_repos(record):
        host = urlsplit(repo).hostname or "git"
        for at, is_fixed in ((first, False), (fixed_at, True)):
            if at:
                b.add(host, repo, "product_version", at, _repo_purl(repo, at), is_fixed)
    target = (record.get("database_specific") or {}).get("target") or {}
    if not b.count and target.get("purl"):
        b.add("other", target["purl"], "product_version", "reported", target["purl"], False)
    status: dict[str, list[str]] = {}
    if b.affected:
        status["known_affected"] = b.affected
    if b.fixed:
        status["fixed"] = b.fixed
    remediations = []
    if b.affected:
        remediations.append(
            {
                "category": "vendor_fix" if b.fixed else "none_available",
                "details": "Update to a fixed version."
                if b.fixed
                else "No fixed version is known yet.",
                "product_ids": b.affected,
            }
        )
    if not b.count:
        # Nothing names a product: the advisory still needs one (CSAF 6.1.27.4/6), and
        # "under investigation" is the only honest status for it.
        b.add("unspecified", record["id"], "product_version", "unspecified", None, False)
        b.affected.clear()
        status = {"under_investigation": ["CSAFPID-0001"]}
    return Products(b.tree(), status, remediations)


STATUS_KEYS = (
    "first_affected",
    "first_fixed",
    "fixed",
    "known_affected",
    "known_not_affected",
    "last_affected",
    "recommended",
    "under_investigation",
)


def preserved(record: dict[str, Any], version: str) -> Products | None:
    """The tree and statuses a CSAF document of the same CSAF version came with, or None (a
    tree of another version is not carried over: its shape differs)."""
    kept = (record.get("database_specific") or {}).get("csaf") or {}
    status = {k: v for k, v in (kept.get("product_status") or {}).items() if k in STATUS_KEYS and v}
    if not kept.get("product_tree") or kept.get("version") != version or not status:
        return None
    named = {pid for ids in status.values() for pid in ids}
    remediations = []
    for rem in kept.get("remediations") or []:
        # A remediation of a product that this vulnerability gives no status is left out
        # (a status the export does not carry, such as an unknown one).
        ids = [pid for pid in rem.get("product_ids") or [] if pid in named]
        if ids or rem.get("group_ids"):
            remediations.append({**rem, **({"product_ids": ids} if ids else {})})
            if not ids:
                remediations[-1].pop("product_ids", None)
    return Products(
        kept["product_tree"],
        status,
        remediations,
        list(kept.get("threats") or []),
        list(kept.get("flags") or []),
        kept.get("category"),
    )


def _purls21(value: Any) -> Any:
    """CSAF 2.1 names a product's purls `purls` (a list); 2.0 `purl`."""
    if isinstance(value, dict):
        out = {k: _purls21(v) for k, v in value.items()}
        helper = out.get("product_identification_helper")
        if isinstance(helper, dict) and "purl" in helper:
            rest = {k: v for k, v in helper.items() if k != "purl"}
            out["product_identification_helper"] = {**rest, "purls": [helper["purl"]]}
        return out
    if isinstance(value, list):
        return [_purls21(v) for v in value]
    return value


def products_of(record: dict[str, Any], version: str = "2.0") -> Products:
    kept = preserved(record, version)
    if kept is not None:
        return kept
    products = derived(record)
    if version == "2.1":
        products.tree = _purls21(products.tree)
    return products
