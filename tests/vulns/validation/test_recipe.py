"""Bad recipes get a clear error with a stable code, and nothing else: missing fields, unknown
expectations, paths that leave the recipe (`..`, absolute, symbolic links), hostile archives.
Hypothesis plays the rest: no text and no document makes the parser raise anything but the
typed error."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clearinghouse.core.errors import InvalidInput
from clearinghouse.vulns.validation import sources
from clearinghouse.vulns.validation.errors import ArchiveRefused, RecipeInvalid
from clearinghouse.vulns.validation.recipe import (
    MAX_RECIPE_BYTES,
    parse_recipe,
    parse_recipe_data,
    parse_recipe_text,
)
from clearinghouse.vulns.validation.runner import Validator
from clearinghouse.vulns.validation.sources import SourceCache

GOOD = """
[target]
source = "src"
run = "./prog {poc}"

[poc]
file = "poc.bin"
expect = "asan"
"""


def make(tmp_path: Path, text: str = GOOD, files: dict[str, bytes] | None = None) -> Path:
    root = tmp_path / "recipe"
    root.mkdir(exist_ok=True)
    (root / "src").mkdir(exist_ok=True)
    (root / "src" / "prog.c").write_text("int main(void) { return 0; }\n")
    (root / "poc.bin").write_bytes(b"\x00\x01")
    for name, data in (files or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    (root / "recipe.toml").write_text(text)
    return root


def code_of(tmp_path: Path, text: str, files: dict[str, bytes] | None = None) -> str:
    with pytest.raises(InvalidInput) as caught:
        parse_recipe(make(tmp_path, text, files))
    return caught.value.code


def test_a_good_recipe_parses(tmp_path: Path) -> None:
    recipe = parse_recipe(make(tmp_path))
    assert recipe.source.kind == "directory" and recipe.poc_name == "poc.bin"
    assert str(recipe.expect) == "asan" and recipe.fixed_source is None


def test_no_directory_or_no_recipe_file(tmp_path: Path) -> None:
    with pytest.raises(RecipeInvalid) as caught:
        parse_recipe(tmp_path / "absent")
    assert caught.value.code == "recipe_missing"
    with pytest.raises(RecipeInvalid) as caught:
        parse_recipe(tmp_path)
    assert caught.value.code == "recipe_missing"


@pytest.mark.parametrize(
    ("text", "code", "names"),
    [
        ("[target\nsource=", "recipe_toml_invalid", "TOML"),
        (GOOD.replace('[poc]\nfile = "poc.bin"\nexpect = "asan"\n', ""), "recipe_invalid", "poc"),
        (GOOD.replace('run = "./prog {poc}"\n', ""), "recipe_invalid", "target.run"),
        (GOOD.replace('source = "src"\n', ""), "recipe_invalid", "target.source"),
        (GOOD.replace("./prog {poc}", "./prog input.bin"), "recipe_invalid", "{poc}"),
        (GOOD + "\n[extra]\nx = 1\n", "recipe_invalid", "extra"),
        (GOOD.replace('source = "src"', 'source = "src"\nsecret = 1'), "recipe_invalid", "secret"),
        (GOOD.replace('run = "', 'run = "\\u0000'), "recipe_invalid", "NUL"),
        (GOOD.replace('"src"', "42"), "recipe_invalid", "target.source"),
        (GOOD + "\n[target.limits]\nwall_seconds = 100000\n", "recipe_invalid", "wall_seconds"),
        (GOOD.replace('"asan"', '"valgrind"'), "expect_unknown", "asan"),
        (GOOD.replace('"asan"', '"asan:strict"'), "expect_invalid", "asan"),
        (GOOD.replace('"asan"', '"exit-code:256"'), "expect_invalid", "0 to 255"),
        (GOOD.replace('"asan"', '"exit-code:"'), "expect_invalid", "exit-code"),
        (GOOD.replace('"asan"', '"stdout-regex:(unclosed"'), "expect_invalid", "regular"),
        (GOOD.replace('"asan"', '"python-exception:not a name"'), "expect_invalid", "exception"),
        (GOOD.replace('"poc.bin"', '"../outside.bin"'), "path_outside_recipe", "poc.file"),
        (GOOD.replace('"poc.bin"', '"/etc/passwd"'), "path_outside_recipe", "poc.file"),
        (GOOD.replace('"poc.bin"', '"missing.bin"'), "file_missing", "poc.file"),
        (GOOD.replace('"poc.bin"', '"src"'), "file_missing", "regular file"),
        (GOOD.replace('source = "src"', 'source = "../.."'), "path_outside_recipe", "source"),
        (GOOD.replace('source = "src"', 'source = "poc.bin"'), "source_unsupported", "archive"),
        (GOOD.replace('"src"', '"pkg:npm/left-pad@1.0.0"'), "source_unsupported", "pypi"),
        (GOOD.replace('"src"', '"pkg:pypi/pyyaml"'), "source_unsupported", "@version"),
        (GOOD.replace('"src"', '"pkg:pypi/%ff%fe@1"'), "purl_invalid", "UTF-8"),
        (
            GOOD.replace('source = "src"', 'source = "src"\nosv = "poc.bin"'),
            "osv_record_invalid",
            "OSV",
        ),
    ],
)
def test_a_bad_recipe_gets_a_stable_code(tmp_path: Path, text: str, code: str, names: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_recipe(make(tmp_path, text))
    assert caught.value.code == code
    assert names in caught.value.detail


def test_a_symbolic_link_out_of_the_recipe_is_refused(tmp_path: Path) -> None:
    root = make(tmp_path)
    (root / "poc.bin").unlink()
    (root / "poc.bin").symlink_to("/etc/passwd")
    with pytest.raises(RecipeInvalid) as caught:
        parse_recipe(root)
    assert caught.value.code == "path_outside_recipe"
    # A link that stays inside is fine.
    (root / "poc.bin").unlink()
    (root / "real.bin").write_bytes(b"x")
    (root / "poc.bin").symlink_to("real.bin")
    assert parse_recipe(root).poc_path == (root / "real.bin").resolve()


def test_an_oversized_recipe_file_is_refused(tmp_path: Path) -> None:
    assert code_of(tmp_path, GOOD + "#" * MAX_RECIPE_BYTES) == "recipe_too_large"


def test_a_source_directory_with_a_link_out_is_refused(
    tmp_path: Path, offline_validator: Validator
) -> None:
    root = make(tmp_path)
    (root / "src" / "shadow").symlink_to("/etc/shadow")
    with pytest.raises(RecipeInvalid) as caught:
        offline_validator.validate(root)
    assert caught.value.code == "path_outside_recipe"


# --- hostile archives ------------------------------------------------------------------------


def _tar(members: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for info, data in members:
            info.size = len(data) if info.isreg() else 0
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buffer.getvalue()


def _file(name: str) -> tarfile.TarInfo:
    return tarfile.TarInfo(name)


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def _device(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
    return info


HOSTILE_TARS = {
    "dot-dot": [(_file("pkg/../../escaped.txt"), b"x")],
    "absolute": [(_file("/tmp/escaped.txt"), b"x")],
    "symlink-out": [(_link("pkg/shadow", "/etc/shadow"), b"")],
    "symlink-up": [(_link("pkg/up", "../../.."), b"")],
    "hardlink-out": [(_link("pkg/hard", "/etc/passwd", tarfile.LNKTYPE), b"")],
    "device": [(_device("pkg/null"), b"")],
}


@pytest.mark.parametrize("name", sorted(HOSTILE_TARS))
def test_a_hostile_tarball_source_is_refused_and_extracts_nothing(
    name: str, tmp_path: Path, offline_validator: Validator
) -> None:
    archive = _tar([(_file("pkg/ok.c"), b"int x;"), *HOSTILE_TARS[name]])
    text = GOOD.replace('source = "src"', 'source = "target.tar.gz"')
    root = make(tmp_path, text, {"target.tar.gz": archive})
    assert parse_recipe(root).source.kind == "archive"  # the parser does not open archives
    with pytest.raises(ArchiveRefused) as caught:
        offline_validator.validate(root)
    assert caught.value.code == "archive_refused"
    assert not (tmp_path / "escaped.txt").exists() and not Path("/tmp/escaped.txt").exists()
    cache = tmp_path / "cache" / "sources"
    assert not cache.exists() or not [p for p in cache.iterdir() if not p.name.startswith(".")]


def test_a_zip_with_dot_dot_or_a_link_is_refused(tmp_path: Path) -> None:
    for i, (name, attr) in enumerate([("../escaped.txt", 0), ("pkg/link", 0o120777 << 16)]):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as zf:
            info = zipfile.ZipInfo(name)
            info.external_attr = attr
            zf.writestr(info, "/etc/passwd")
        archive = tmp_path / f"bad{i}.zip"
        archive.write_bytes(buffer.getvalue())
        with pytest.raises(ArchiveRefused):
            sources.extract_archive(archive, tmp_path / f"out{i}")
    assert not (tmp_path / "escaped.txt").exists()


def test_an_archive_that_unpacks_too_large_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "bomb.tar.gz"
    archive.write_bytes(_tar([(_file("pkg/zeros"), bytes(200_000))]))  # compresses to ~200 bytes
    monkeypatch.setattr(sources, "MAX_TREE_BYTES", 100_000)
    with pytest.raises(ArchiveRefused) as caught:
        sources.extract_archive(archive, tmp_path / "out")
    assert "100000 bytes" in caught.value.detail


def test_a_good_tarball_is_extracted_once_and_keyed_by_its_sha256(tmp_path: Path) -> None:
    archive = tmp_path / "good.tar.gz"
    archive.write_bytes(_tar([(_file("pkg-1.0/a.c"), b"int a;"), (_link("pkg-1.0/b", "a.c"), b"")]))
    cache = SourceCache(tmp_path / "cache")
    first = cache._unpacked(archive, sources.file_sha256(archive))
    assert first.root.name == "pkg-1.0" and (first.root / "b").resolve() == first.root / "a.c"
    assert first.root.is_relative_to(tmp_path / "cache" / "sources" / first.sha256)
    again = cache._unpacked(archive, first.sha256)
    assert again == first


# --- fuzz ------------------------------------------------------------------------------------

KEYS = ["recipe", "target", "poc", "expected", "source", "fixed_source", "osv", "build", "run"]
KEYS += ["limits", "file", "expect", "wall_seconds", "processes", "advisories", "verdict"]
VALUES = [
    "src",
    "poc.bin",
    "../poc.bin",
    "/etc/passwd",
    "pkg:pypi/pyyaml@3.13",
    "pkg:pypi/",
    "./prog {poc}",
    "asan",
    "exit-code:1",
    "stdout-regex:(a+)+$",
    "python-exception:ValueError",
    "reproduced",
    "src/../../..",
    "\x00",
]
scalars = st.one_of(
    st.sampled_from(VALUES),
    st.text(max_size=40),
    st.integers(),
    st.floats(allow_nan=True),
    st.booleans(),
    st.none(),
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=10)), inner, max_size=6),
    ),
    max_leaves=25,
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.one_of(st.text(max_size=400), st.sampled_from([GOOD, GOOD.replace("=", "")])))
def test_fuzzed_text_raises_only_the_typed_error(tmp_path: Path, text: str) -> None:
    root = make(tmp_path)
    try:
        parse_recipe_text(text, root)
    except InvalidInput:
        pass


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=documents, target=st.dictionaries(st.sampled_from(KEYS), scalars, max_size=5))
def test_fuzzed_documents_raise_only_the_typed_error(
    tmp_path: Path, data: object, target: dict[str, object]
) -> None:
    root = make(tmp_path)
    shaped = {"target": {"source": "src", "run": "x {poc}", **target}, "poc": data}
    for candidate in (data, shaped):
        try:
            parse_recipe_data(candidate, root)
        except InvalidInput:
            pass


def test_a_deeply_nested_document_is_a_typed_error(tmp_path: Path) -> None:
    root = make(tmp_path)
    for text in ("x = " + "[" * 5000 + "]" * 5000, "a" + ".a" * 5000 + " = 1"):
        try:
            parse_recipe_text(text, root)
        except InvalidInput:
            pass
    nested: object = "x"
    for _ in range(5000):
        nested = {"target": nested}
    with pytest.raises(InvalidInput):
        parse_recipe_data(nested, root)


def test_os_errors_from_odd_paths_are_typed(tmp_path: Path) -> None:
    root = make(tmp_path)
    long_name = "a" * (os.pathconf("/", "PC_NAME_MAX") + 10)
    for value in (long_name, "a/" * 3000 + "b", "src/\udcff"):
        data = {
            "target": {"source": "src", "run": "{poc}"},
            "poc": {"file": value, "expect": "asan"},
        }
        with pytest.raises(InvalidInput):
            parse_recipe_data(data, root)
