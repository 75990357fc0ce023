"""Released packages come from a PEP 503 index, outside the sandbox, into a content-addressed
cache: the announced sha256 is checked, a second validation needs no index, a tampered cache
entry is not trusted, and an index that is down or lies is the verdict `error`."""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from clearinghouse.core.net import OutboundPolicy
from clearinghouse.vulns.validation.errors import ArchiveRefused, SourceNotFound
from clearinghouse.vulns.validation.runner import Validator
from clearinghouse.vulns.validation.schemas import FixedVerdict, Verdict
from tests.support.needs import needs_bwrap
from tests.vulns.validation.conftest import EXAMPLES, LOOPBACK, PACKAGES, Index

PYJWT = EXAMPLES / "pypi-pyjwt-key-confusion"
PYJWT_150 = "fd182b728d13f04c289d9b2623d09256d356c9b4a6778018001454a954d7c54b"


def _recipe_for(tmp_path: Path, purl: str, *, expect: str = "exit-code:0") -> Path:
    root = tmp_path / "recipe"
    root.mkdir(parents=True)
    (root / "poc.py").write_text("print('ran')\n")
    (root / "recipe.toml").write_text(
        f'[target]\nsource = "{purl}"\nrun = "python3 -B {{poc}}"\n'
        f'[poc]\nfile = "poc.py"\nexpect = "{expect}"\n'
    )
    return root


@needs_bwrap
def test_a_purl_is_fetched_once_then_served_from_the_cache(
    tmp_path: Path, package_index: Index
) -> None:
    cache = tmp_path / "cache"
    online = Validator(cache, index_url=package_index.url, policy=LOOPBACK)
    first = online.validate(PYJWT)
    assert first.source is not None and first.source.sha256 == PYJWT_150
    assert (cache / "sources" / PYJWT_150 / "archive" / "PyJWT-1.5.0.tar.gz").is_file()
    # The index is gone (a closed port): the cache still answers, for both releases.
    offline = Validator(cache, index_url="http://127.0.0.1:9/simple", policy=LOOPBACK)
    second = offline.validate(PYJWT)
    assert (second.verdict, second.fixed_verdict) == (first.verdict, first.fixed_verdict)
    assert second.verdict is Verdict.reproduced and second.error_code is None


@needs_bwrap
def test_a_tampered_cache_entry_is_fetched_again(tmp_path: Path, package_index: Index) -> None:
    cache = tmp_path / "cache"
    validator = Validator(cache, index_url=package_index.url, policy=LOOPBACK)
    validator.validate(PYJWT)
    cached = cache / "sources" / PYJWT_150 / "archive" / "PyJWT-1.5.0.tar.gz"
    cached.write_bytes(b"tampered")
    before = len(package_index.requests)
    again = validator.validate(PYJWT)
    assert again.verdict is Verdict.reproduced
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == PYJWT_150
    assert any(r.endswith("PyJWT-1.5.0.tar.gz") for r in package_index.requests[before:])
    # A pointer that is not one we wrote (garbage, a path out of the cache) is not followed.
    pointers = list((cache / "sources" / "pypi" / "pyjwt").glob("*.json"))
    assert len(pointers) == 2  # 1.5.0 and its fixed release
    for garbage in ("{", '{"sha256": "../../..", "filename": "x"}', "[]"):
        for pointer in pointers:
            pointer.write_text(garbage)
        assert validator.validate(PYJWT).verdict is Verdict.reproduced


@needs_bwrap
def test_a_tampered_extracted_tree_is_extracted_again(tmp_path: Path, package_index: Index) -> None:
    """Someone with write access to the cache "fixes" the vulnerable release's code in place:
    the next validation must not run the altered tree."""
    cache = tmp_path / "cache"
    validator = Validator(cache, index_url=package_index.url, policy=LOOPBACK)
    assert validator.validate(PYJWT).verdict is Verdict.reproduced
    module = cache / "sources" / PYJWT_150 / "tree" / "PyJWT-1.5.0" / "jwt" / "algorithms.py"
    original = module.read_text()
    module.write_text(
        original.replace(
            "def prepare_key(self, key):",
            "def prepare_key(self, key):\n        raise SystemExit(3)",
            1,
        )
    )
    assert module.read_text() != original
    again = validator.validate(PYJWT)
    assert again.verdict is Verdict.reproduced, again.evidence
    assert module.read_text() == original


def test_an_index_that_serves_other_bytes_than_it_announces_is_an_error(
    tmp_path: Path, make_index: Callable[..., Index]
) -> None:
    index = make_index(
        {"PyJWT-1.5.0.tar.gz": b"other bytes"}, announced={"PyJWT-1.5.0.tar.gz": "0" * 64}
    )
    validator = Validator(tmp_path / "cache", index_url=index.url, policy=LOOPBACK)
    result = validator.validate(_recipe_for(tmp_path, "pkg:pypi/pyjwt@1.5.0"))
    assert (result.verdict, result.error_code) == (Verdict.error, "source_hash_mismatch")
    sources = tmp_path / "cache" / "sources"
    assert not [p for p in sources.iterdir() if len(p.name) == 64]  # nothing cached


def test_a_version_the_index_does_not_have_is_a_bad_recipe(
    tmp_path: Path, make_index: Callable[..., Index]
) -> None:
    index = make_index({"PyJWT-1.5.0.tar.gz": b"x", "PyJWT-1.5.0-py3-none-any.whl": b"y"})
    validator = Validator(tmp_path / "cache", index_url=index.url, policy=LOOPBACK)
    for purl in ("pkg:pypi/pyjwt@9.9.9", "pkg:pypi/no-such-project@1.0"):
        with pytest.raises(SourceNotFound) as caught:
            validator.validate(_recipe_for(tmp_path / purl[9:12], purl))
        assert caught.value.code == "source_not_found"


def test_an_unreachable_index_is_an_error(tmp_path: Path) -> None:
    validator = Validator(
        tmp_path / "cache", index_url="http://127.0.0.1:9/simple", policy=LOOPBACK
    )
    result = validator.validate(_recipe_for(tmp_path, "pkg:pypi/pyjwt@1.5.0"))
    assert (result.verdict, result.error_code) == (Verdict.error, "source_unavailable")


def test_an_index_on_a_private_address_is_refused_by_the_outbound_policy(
    tmp_path: Path, make_index: Callable[..., Index]
) -> None:
    index = make_index({"PyJWT-1.5.0.tar.gz": b"x"})
    strict = OutboundPolicy(allow_private=False)
    validator = Validator(tmp_path / "cache", index_url=index.url, policy=strict)
    result = validator.validate(_recipe_for(tmp_path, "pkg:pypi/pyjwt@1.5.0"))
    assert (result.verdict, result.error_code) == (Verdict.error, "index_refused")
    assert index.requests == []  # refused before any byte was sent


def test_a_hostile_sdist_is_refused(tmp_path: Path, make_index: Callable[..., Index]) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("evil-1.0/../../escaped-by-sdist.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"x\n"))
    index = make_index({"evil-1.0.tar.gz": buffer.getvalue()})
    validator = Validator(tmp_path / "cache", index_url=index.url, policy=LOOPBACK)
    with pytest.raises(ArchiveRefused):
        validator.validate(_recipe_for(tmp_path, "pkg:pypi/evil@1.0"))
    assert not list(tmp_path.rglob("escaped-by-sdist.txt"))


@needs_bwrap
def test_a_fixed_release_missing_from_the_index_is_a_note_not_a_failure(
    tmp_path: Path, make_index: Callable[..., Index], package_index: Index
) -> None:
    only_vulnerable = {"PyJWT-1.5.0.tar.gz": (PACKAGES / "PyJWT-1.5.0.tar.gz").read_bytes()}
    index = make_index(only_vulnerable)
    validator = Validator(tmp_path / "cache", index_url=index.url, policy=LOOPBACK)
    result = validator.validate(PYJWT)
    assert result.verdict is Verdict.reproduced
    assert result.fixed_verdict is FixedVerdict.not_run
    assert any("pkg:pypi/pyjwt@1.5.1" in note for note in result.notes)


@needs_bwrap
def test_odd_links_on_the_index_page_are_ignored(
    tmp_path: Path, make_index: Callable[..., Index], package_index: Index
) -> None:
    """Links the client must not follow or choke on: another scheme, a malformed URL, a
    wheel, another project's file under the wanted name's prefix. Listed first, all ignored."""
    odd = [
        '<a href="file:///etc/passwd#PyJWT-1.5.0.tar.gz">PyJWT-1.5.0.tar.gz</a>',
        '<a href="file:///tmp/PyJWT-1.5.0.tar.gz">PyJWT-1.5.0.tar.gz</a>',
        '<a href="http://[broken/PyJWT-1.5.0.tar.gz">PyJWT-1.5.0.tar.gz</a>',
        '<a href="/files/PyJWT-1.5.0-py3-none-any.whl">wheel</a>',
        '<a href="/files/PyJWT-extra-1.5.0.tar.gz">other</a>',
        '<a href="/files/PyJWT-1.5.0.tar.gz#sha256=">no hash value</a>',
        "<a>no href</a>",
    ]
    files = {"PyJWT-1.5.0.tar.gz": (PACKAGES / "PyJWT-1.5.0.tar.gz").read_bytes()}
    index = make_index(files, extra_links=odd)
    validator = Validator(tmp_path / "cache", index_url=index.url, policy=LOOPBACK)
    result = validator.validate(PYJWT)
    assert result.verdict is Verdict.reproduced, result.evidence
    assert result.source is not None and result.source.sha256 == PYJWT_150
