"""The fixed source of a released package, derived from an OSV record: the first fixed version
on the vulnerable version's own branch.

For each of the record's `affected` entries that names the package (same ecosystem, same
normalised name), every SEMVER or ECOSYSTEM range that affects the version (`vulns.ranges`, the
one OSV range evaluator) offers its `fixed` events above the version; the lowest of them, in the
ecosystem's own version order, ends the affected interval the version lies in. So with
`introduced 0.11, fixed 0.11.7, introduced 0.12, fixed 0.12.6`, version 0.11.3 gets 0.11.7, not
0.12.6. A range with only `last_affected` gives nothing: no release is known to be fixed.
"""

from __future__ import annotations

from dataclasses import dataclass

from packageurl import PackageURL
from packaging.utils import canonicalize_name

from clearinghouse.core.errors import InvalidInput
from clearinghouse.vulns.osv import Record
from clearinghouse.vulns.purls import package_of, purl_for
from clearinghouse.vulns.ranges import in_range, is_affected, version_key
from clearinghouse.vulns.validation.errors import RecipeInvalid


@dataclass(frozen=True)
class FixedVersion:
    version: str | None  # None: the record names no fixed release for this branch
    reason: str  # why, in words (for the result's notes)


def _same_package(ecosystem: str, name: str, affected_ecosystem: str, affected_name: str) -> bool:
    if affected_ecosystem.split(":", 1)[0] != ecosystem:
        return False
    if ecosystem == "PyPI":
        return canonicalize_name(affected_name) == canonicalize_name(name)
    return affected_name == name


def first_fixed(record: Record, ecosystem: str, name: str, version: str) -> FixedVersion:
    """The first fixed version after `version` on its branch, by the record's ranges."""
    try:
        return _first_fixed(record, ecosystem, name, version)
    except InvalidInput as exc:  # a range or version the evaluator cannot order
        raise RecipeInvalid(
            f"the OSV record's ranges cannot be evaluated: {exc.detail}",
            code="osv_record_invalid",
        ) from None
    except (TypeError, ValueError):  # univers compares some versions lazily, and fails there
        raise RecipeInvalid(
            "the OSV record's versions cannot be compared", code="osv_record_invalid"
        ) from None


def _first_fixed(record: Record, ecosystem: str, name: str, version: str) -> FixedVersion:
    entries = [
        a
        for a in record.affected
        if a.package is not None
        and _same_package(ecosystem, name, a.package.ecosystem, a.package.name)
    ]
    if not entries:
        return FixedVersion(None, f"{record.id} does not name {ecosystem} package {name}")
    candidates: list[str] = []
    affected = False
    for entry in entries:
        data = entry.model_dump(mode="json", exclude_none=True)
        affected = affected or is_affected(version, data)
        for range_ in data.get("ranges", []):
            if range_.get("type") == "GIT" or not in_range(
                version, data["package"]["ecosystem"], range_
            ):
                continue
            key = version_key(data["package"]["ecosystem"], range_["type"])
            here = key(version)
            candidates += [
                e["fixed"] for e in range_["events"] if "fixed" in e and here < key(e["fixed"])
            ]
    if not affected:
        return FixedVersion(None, f"{record.id} does not list {name} {version} as affected")
    if not candidates:
        return FixedVersion(None, f"{record.id} names no fixed release after {name} {version}")
    key = version_key(ecosystem)
    best = min(candidates, key=key)
    return FixedVersion(best, f"the first fixed release after {version} in {record.id}")


def fixed_purl(record: Record, purl: PackageURL) -> tuple[str | None, str]:
    """(the purl of the first fixed release, or None; why) for a vulnerable package's purl."""
    package = package_of(purl)
    if package is None or package[2] is None:
        return None, "the target purl names no versioned package of a known ecosystem"
    ecosystem, name, version = package[0], package[1], package[2]
    found = first_fixed(record, ecosystem, name, version)
    if found.version is None:
        return None, found.reason
    return purl_for(ecosystem, name, found.version), found.reason
