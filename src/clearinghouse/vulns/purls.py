"""The one check of every package URL (purl) the product accepts: report targets, the
packages of imported records (OSV, CSAF, CVE 5), and public OSV queries.

Parsing is `packageurl-python`'s (`PackageURL.from_string`). It is lenient where a stored purl
must not be: it decodes invalid percent-encoded UTF-8 into U+FFFD (`pkg:pypi/%ff%fe@1` names
"\ufffd\ufffd"), drops an empty name segment (`pkg:npm/%40scope/@1` becomes the package
"@scope"), keeps NUL and other control characters, and accepts components that do not survive
being written back (`pkg:pypi/a%2Fb` is written `pkg:pypi/a/b`, another purl). Those checks are
ours, below.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from packageurl import PackageURL

from clearinghouse.core.errors import InvalidInput
from clearinghouse.core.schemas import unstorable_text

MAX_LENGTH = 500

PURL_ECOSYSTEMS = {
    "pypi": "PyPI",
    "npm": "npm",
    "golang": "Go",
    "cargo": "crates.io",
    "maven": "Maven",
    "nuget": "NuGet",
    "gem": "RubyGems",
    "composer": "Packagist",
    "deb": "Debian",
    "apk": "Alpine",
    "hex": "Hex",
    "pub": "Pub",
}
ECOSYSTEM_PURL_TYPES = {v: k for k, v in PURL_ECOSYSTEMS.items()}


class PurlInvalid(InvalidInput):
    default_code = "purl_invalid"


def _raw_name_segment(text: str) -> str:
    """The name as written: the last path segment, before any @version, ?qualifiers or
    #subpath (the purl spec's parsing order)."""
    head = text.split("#", 1)[0].split("?", 1)[0]
    path = head[len("pkg:") :].lstrip("/").partition("/")[2]
    at = path.rfind("@")
    if at > path.rfind("/"):
        path = path[:at]
    return path.rpartition("/")[2]


def parse_purl(text: object) -> PackageURL:
    """The parsed purl, or PurlInvalid (code `purl_invalid`) saying what is wrong."""
    if not isinstance(text, str):
        raise PurlInvalid("a purl must be a string")
    if len(text) > MAX_LENGTH:
        raise PurlInvalid(f"a purl is at most {MAX_LENGTH} characters")
    if (reason := unstorable_text(text)) is not None:
        raise PurlInvalid(f"invalid purl: {reason}")
    if not text.startswith("pkg:"):
        raise PurlInvalid("invalid purl: it must start with pkg:")
    try:
        unquote_to_bytes(text).decode("utf-8")
    except UnicodeDecodeError:
        raise PurlInvalid("invalid purl: its percent-encoding is not UTF-8") from None
    try:
        purl = PackageURL.from_string(text)
    except ValueError as exc:
        raise PurlInvalid(f"invalid purl: {exc}") from None
    if not purl.name or not _raw_name_segment(text):
        raise PurlInvalid("invalid purl: the name is empty")
    parts = [purl.type, purl.namespace, purl.name, purl.version, purl.subpath]
    if isinstance(purl.qualifiers, dict):
        parts += [*purl.qualifiers.keys(), *purl.qualifiers.values()]
    for part in parts:
        if part and any(ord(c) < 0x20 or ord(c) == 0x7F for c in part):
            raise PurlInvalid("invalid purl: control characters in a component")
    try:
        again = PackageURL.from_string(purl.to_string())
    except ValueError:
        again = None
    if again != purl:
        raise PurlInvalid("invalid purl: it does not survive being written back (round trip)")
    return purl


def package_of(p: PackageURL) -> tuple[str, str, str | None] | None:
    """(ecosystem, name, version) of a parsed purl of a known type, else None."""
    ecosystem = PURL_ECOSYSTEMS.get(p.type)
    if ecosystem is None:
        return None
    if p.namespace and p.type in ("golang", "npm", "composer"):
        name = f"{p.namespace}/{p.name}"
    elif p.namespace and p.type == "maven":
        name = f"{p.namespace}:{p.name}"
    else:
        name = p.name
    return ecosystem, name, p.version


def package_from_purl(purl: str) -> tuple[str, str, str | None] | None:
    """(ecosystem, name, version) for a valid purl of a known type, else None (malformed or
    unknown alike; callers that must tell them apart use `purls.parse_purl` first)."""
    try:
        return package_of(parse_purl(purl))
    except PurlInvalid:
        return None


def purl_for(ecosystem: str, name: str, version: str | None = None) -> str | None:
    kind = ECOSYSTEM_PURL_TYPES.get(ecosystem)
    if kind is None:
        return None
    namespace = None
    if kind == "maven" and ":" in name:
        namespace, name = name.split(":", 1)
    elif kind in ("golang", "npm", "composer") and "/" in name:
        namespace, name = name.rsplit("/", 1)
    return PackageURL(type=kind, namespace=namespace, name=name, version=version).to_string()
