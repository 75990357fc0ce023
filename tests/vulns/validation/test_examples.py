"""The example recipes under examples/recipes/, validated for real: built in the bubblewrap
sandbox, run on the vulnerable and the fixed build, each compared with its `[expected]` table.

The adversaries: a second PoC of the same bug must give the same signature, and different bugs
different ones; the second validation must take the build from the cache, and a PoC that
overwrites its own build must not change what the next validation runs.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest

from clearinghouse.vulns.osv import Record
from clearinghouse.vulns.validation.fixed import fixed_purl
from clearinghouse.vulns.validation.recipe import parse_recipe
from clearinghouse.vulns.validation.runner import Validator
from clearinghouse.vulns.validation.schemas import FixedVerdict, ValidationResult, Verdict
from tests.support.needs import needs_bwrap, needs_gcc
from tests.vulns.validation.conftest import EXAMPLES, PINNED

RECIPES = sorted(p for p in EXAMPLES.iterdir() if (p / "recipe.toml").is_file())
C_RECIPES = [p for p in RECIPES if p.name.startswith("c-")]
PYPI_RECIPES = [p for p in RECIPES if p.name.startswith("pypi-")]
# A second PoC of the same bug, shipped beside the first.
VARIANTS = {
    "c-heap-overflow": "poc-comment.bin",
    "c-use-after-free": "poc-rename.txt",
    "c-integer-overflow-alloc": "poc-wide.bin",
    "c-format-string": "poc-hex.ini",
    "c-null-deref": "poc-self.txt",
}


def _name(path: Path) -> str:
    return path.name


def _assert_expected(recipe_dir: Path, result: ValidationResult) -> None:
    expected = parse_recipe(recipe_dir).spec.expected
    assert expected is not None, f"{recipe_dir.name} has no [expected] table"
    got = (result.verdict, result.fixed_verdict, result.signature, result.crash_type)
    want = (expected.verdict, expected.fixed_verdict, expected.signature, expected.crash_type)
    assert got == want, (recipe_dir.name, result.evidence[-1500:], result.fixed_evidence)


def test_the_examples_cover_the_required_bug_classes_and_advisories() -> None:
    """At least five original C programs with sanitizer expectations and a fixed source, and at
    least three published PyPI advisories fetched by purl, each citing its advisory and carrying
    the OSV record that names the fixed release (whose sdist is pinned for the tests)."""
    assert len(RECIPES) >= 8
    signatures = set()
    for recipe_dir in C_RECIPES:
        recipe = parse_recipe(recipe_dir)
        assert recipe.expect.kind in ("asan", "ubsan")
        assert recipe.source.kind == "directory" and recipe.fixed_source is not None
        assert recipe.spec.expected is not None and recipe.spec.expected.signature
        signatures.add(recipe.spec.expected.signature)
        assert (recipe_dir / "README.md").read_text().strip()
    assert len(C_RECIPES) >= 5 and len(signatures) == len(C_RECIPES)
    kinds = {s.split("@")[0] for s in signatures}
    assert {"heap-buffer-overflow", "heap-use-after-free", "stack-buffer-overflow", "segv"} <= kinds
    pinned = PINNED.read_text().lower()
    assert len(PYPI_RECIPES) >= 3
    for recipe_dir in PYPI_RECIPES:
        recipe = parse_recipe(recipe_dir)
        assert recipe.source.kind == "purl" and recipe.source.purl is not None
        assert recipe.fixed_source is None  # derived from the record, which is what is tested
        assert isinstance(recipe.osv_record, Record)
        assert recipe.osv_record.id in recipe.spec.recipe.advisories
        assert recipe.osv_record.id in (recipe_dir / "README.md").read_text()
        assert recipe.expect.kind in ("stdout-regex", "python-exception")
        fixed, _ = fixed_purl(recipe.osv_record, recipe.source.purl)
        assert fixed is not None
        for purl in (recipe.source.ref, fixed):
            name, version = purl.removeprefix("pkg:pypi/").split("@")
            assert f"{name}=={version} " in pinned, f"{purl} is not in {PINNED.name}"


@needs_bwrap
@needs_gcc
@pytest.mark.parametrize("recipe_dir", C_RECIPES, ids=_name)
def test_c_example_gives_its_expected_verdict_and_signature(
    recipe_dir: Path, offline_validator: Validator
) -> None:
    result = offline_validator.validate(recipe_dir)
    _assert_expected(recipe_dir, result)
    assert result.build_cached is False and result.fixed_build_cached is False
    assert result.source is not None and result.fixed_source is not None
    assert result.fixed_signature is None  # the fixed build did not crash at all
    assert str(recipe_dir) not in result.evidence  # the sandbox's paths, not the host's
    assert "/workspace/src/" in result.evidence


@needs_bwrap
@pytest.mark.parametrize("recipe_dir", PYPI_RECIPES, ids=_name)
def test_pypi_example_reproduces_and_its_first_fixed_release_does_not(
    recipe_dir: Path, validator: Validator
) -> None:
    result = validator.validate(recipe_dir)
    _assert_expected(recipe_dir, result)
    recipe = parse_recipe(recipe_dir)
    assert recipe.osv_record is not None and recipe.source.purl is not None
    fixed, _ = fixed_purl(recipe.osv_record, recipe.source.purl)
    assert result.source is not None and result.source.kind == "purl"
    assert result.fixed_source is not None
    assert (result.fixed_source.ref, result.fixed_source.derived_from) == (
        fixed,
        recipe.osv_record.id,
    )
    assert recipe.osv_record.id in result.advisories


def _with_poc(recipe_dir: Path, poc: str, tmp_path: Path) -> Path:
    copy = tmp_path / recipe_dir.name
    shutil.copytree(recipe_dir, copy)
    text = (copy / "recipe.toml").read_text()
    old = tomllib.loads(text)["poc"]["file"]
    (copy / "recipe.toml").write_text(text.replace(f'file = "{old}"', f'file = "{poc}"'))
    assert parse_recipe(copy).poc_name == poc
    return copy


@needs_bwrap
@needs_gcc
@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_two_pocs_of_one_bug_give_one_signature(
    name: str, offline_validator: Validator, tmp_path: Path
) -> None:
    original = EXAMPLES / name
    variant = _with_poc(original, VARIANTS[name], tmp_path)
    first = parse_recipe(original)
    assert first.poc_path.read_bytes() != (variant / VARIANTS[name]).read_bytes()
    result = offline_validator.validate(variant)
    _assert_expected(original, result)  # the same signature as the first PoC's


@needs_bwrap
@needs_gcc
def test_different_bugs_give_different_signatures(offline_validator: Validator) -> None:
    signatures = {}
    for recipe_dir in C_RECIPES:
        result = offline_validator.validate(recipe_dir)
        assert result.verdict is Verdict.reproduced, recipe_dir.name
        signatures[recipe_dir.name] = result.signature
    assert len(set(signatures.values())) == len(signatures), signatures


@needs_bwrap
@needs_gcc
def test_the_second_validation_takes_both_builds_from_the_cache(
    offline_validator: Validator,
) -> None:
    recipe_dir = EXAMPLES / "c-heap-overflow"
    first = offline_validator.validate(recipe_dir)
    second = offline_validator.validate(recipe_dir)
    assert (first.build_cached, first.fixed_build_cached) == (False, False)
    assert (second.build_cached, second.fixed_build_cached) == (True, True)
    assert (second.verdict, second.fixed_verdict, second.signature) == (
        first.verdict,
        first.fixed_verdict,
        first.signature,
    )


@needs_bwrap
@needs_gcc
def test_a_changed_source_is_built_again(offline_validator: Validator, tmp_path: Path) -> None:
    recipe_dir = EXAMPLES / "c-heap-overflow"
    assert offline_validator.validate(recipe_dir).build_cached is False
    copy = tmp_path / "changed"
    shutil.copytree(recipe_dir, copy)
    source = copy / "vulnerable" / "records.c"
    source.write_text(source.read_text() + "\n/* one more line */\n")
    result = offline_validator.validate(copy)
    assert (result.build_cached, result.fixed_build_cached) == (False, True)
    assert result.verdict is Verdict.reproduced


@needs_bwrap
@needs_gcc
def test_a_poc_that_overwrites_its_build_does_not_poison_the_cache(
    offline_validator: Validator, tmp_path: Path
) -> None:
    """The run command is the reporter's: this one crashes the program, then replaces the binary
    (in place) with a script that prints nothing. The next validation must run the cached build, not the
    replacement."""
    copy = tmp_path / "poisoner"
    shutil.copytree(EXAMPLES / "c-heap-overflow", copy)
    text = (copy / "recipe.toml").read_text()
    poison = "./records {poc}; printf '#!/bin/sh\\\\nexit 0\\\\n' > records"
    (copy / "recipe.toml").write_text(text.replace('run = "./records {poc}"', f'run = "{poison}"'))
    first = offline_validator.validate(copy)
    second = offline_validator.validate(copy)
    assert second.build_cached is True
    assert first.verdict is second.verdict is Verdict.reproduced
    assert second.signature == "heap-buffer-overflow@store_field|parse_records|main"
    assert second.fixed_verdict is FixedVerdict.fixed_confirmed


@needs_bwrap
@needs_gcc
def test_a_build_altered_in_the_cache_is_built_again(
    offline_validator: Validator, tmp_path: Path
) -> None:
    """Someone with write access to the cache replaces the cached binary: the next validation
    must build again rather than run it."""
    recipe_dir = EXAMPLES / "c-heap-overflow"
    assert offline_validator.validate(recipe_dir).verdict is Verdict.reproduced
    binaries = list((tmp_path / "cache" / "builds").glob("*/tree/records"))
    assert len(binaries) == 2  # the vulnerable and the fixed build
    for binary in binaries:
        binary.write_text("#!/bin/sh\nexit 0\n")
    again = offline_validator.validate(recipe_dir)
    assert (again.build_cached, again.fixed_build_cached) == (False, False)
    assert again.signature == "heap-buffer-overflow@store_field|parse_records|main"
