"""The reproduction recipe: a directory holding `recipe.toml`, the PoC file, and the source (or a
purl naming a released package). The format is documented in docs/validation.md:

```toml
[recipe]                          # optional: what it shows
title = "..."
advisories = ["PYSEC-2017-24", "CVE-2017-11424"]

[target]
source = "vulnerable"             # a directory or an archive in the recipe, or pkg:pypi/NAME@VER
fixed_source = "fixed"            # optional; for a purl, derived from `osv` when absent
osv = "PYSEC-2017-24.json"        # optional: the OSV record whose ranges give the fixed version
build = "gcc ... -o prog prog.c"  # optional shell command, run in the source tree
run = "./prog {poc}"              # shell command; {poc} is the PoC's path in the sandbox
[target.limits]                   # optional
wall_seconds = 60

[poc]
file = "poc.bin"
expect = "asan"                   # asan | ubsan | exit-code:N | stdout-regex:RE | timeout
                                  # | python-exception:NAME

[expected]                        # optional: what the example is known to give (tests use it)
verdict = "reproduced"
fixed_verdict = "fixed_confirmed"
signature = "heap-buffer-overflow@store_field|parse_records|main"
```

Every problem raises `RecipeInvalid` (or another `InvalidInput`, such as `purl_invalid`) with a
stable code; nothing in a recipe, however hostile, raises anything else. Paths are relative to
the recipe directory and may not leave it, by `..`, an absolute path or a symbolic link.
"""

from __future__ import annotations

import re
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson
from packageurl import PackageURL
from pydantic import Field, ValidationError, field_validator

from clearinghouse.core.schemas import Input
from clearinghouse.vulns.osv import Record
from clearinghouse.vulns.purls import parse_purl
from clearinghouse.vulns.validation.errors import RecipeInvalid
from clearinghouse.vulns.validation.expect import Expectation, parse_expect
from clearinghouse.vulns.validation.schemas import FixedVerdict, Verdict

RECIPE_FILE = "recipe.toml"
MAX_RECIPE_BYTES = 64 * 1024
MAX_POC_BYTES = 16 * 1024**2
MAX_OSV_BYTES = 2 * 1024**2
MAX_COMMAND_CHARS = 4000
POC_PLACEHOLDER = "{poc}"
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar", ".zip")
_ADVISORY_ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$"


class RecipeLimits(Input):
    """Per-recipe limits, each capped: the sandbox's own defaults apply to what is not set."""

    cpu_seconds: int = Field(default=60, ge=1, le=600)
    wall_seconds: int = Field(default=120, ge=1, le=600)
    build_seconds: int = Field(default=300, ge=1, le=900)
    memory_mb: int = Field(default=1024, ge=64, le=8192)
    processes: int = Field(default=64, ge=4, le=1024)


class RecipeTarget(Input):
    source: str = Field(min_length=1, max_length=500)
    fixed_source: str | None = Field(default=None, min_length=1, max_length=500)
    osv: str | None = Field(default=None, min_length=1, max_length=500)
    build: str | None = Field(default=None, min_length=1, max_length=MAX_COMMAND_CHARS)
    run: str = Field(min_length=1, max_length=MAX_COMMAND_CHARS)
    limits: RecipeLimits = Field(default_factory=RecipeLimits)

    @field_validator("run")
    @classmethod
    def _has_poc(cls, value: str) -> str:
        if POC_PLACEHOLDER not in value:
            raise ValueError(f"the run command must name the PoC as {POC_PLACEHOLDER}")
        return value


class RecipePoc(Input):
    file: str = Field(min_length=1, max_length=500)
    expect: str = Field(min_length=1, max_length=1000)


class RecipeMeta(Input):
    title: str | None = Field(default=None, max_length=300)
    summary: str | None = Field(default=None, max_length=4000)
    advisories: list[str] = Field(default_factory=list, max_length=20)

    @field_validator("advisories")
    @classmethod
    def _ids(cls, value: list[str]) -> list[str]:
        for item in value:
            if not re.match(_ADVISORY_ID, item):
                raise ValueError("an advisory id looks like CVE-2017-11424 or PYSEC-2017-24")
        return value


class RecipeExpected(Input):
    """What an example recipe is known to give; the tests compare every field."""

    verdict: Verdict
    fixed_verdict: FixedVerdict
    signature: str | None = Field(default=None, max_length=600)
    crash_type: str | None = Field(default=None, max_length=200)


class RecipeFile(Input):
    recipe: RecipeMeta = Field(default_factory=RecipeMeta)
    target: RecipeTarget
    poc: RecipePoc
    expected: RecipeExpected | None = None


@dataclass(frozen=True)
class SourceSpec:
    kind: Literal["directory", "archive", "purl"]
    ref: str  # as the recipe writes it
    path: Path | None = None  # directory and archive
    purl: PackageURL | None = None


@dataclass(frozen=True)
class Recipe:
    directory: Path
    spec: RecipeFile
    source: SourceSpec
    fixed_source: SourceSpec | None
    osv_record: Record | None
    poc_path: Path
    expect: Expectation

    @property
    def poc_name(self) -> str:
        return self.poc_path.name

    @property
    def advisories(self) -> list[str]:
        ids = list(self.spec.recipe.advisories)
        if self.osv_record is not None:
            ids += [self.osv_record.id, *self.osv_record.aliases]
        return list(dict.fromkeys(ids))


def _inside(base: Path, relative: str, field: str) -> Path:
    """`relative` resolved under `base`, refusing anything that leaves it (`..`, an absolute
    path, a symbolic link pointing out)."""
    if relative.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", relative):
        raise RecipeInvalid(f"{field} must be a path inside the recipe", code="path_outside_recipe")
    root = base.resolve()
    try:
        path = (root / relative).resolve()
    except (OSError, RuntimeError, ValueError):  # a link loop, a name too long
        raise RecipeInvalid(f"{field} is not a usable path", code="path_outside_recipe") from None
    if not path.is_relative_to(root):
        raise RecipeInvalid(f"{field} must be a path inside the recipe", code="path_outside_recipe")
    return path


def _stat(path: Path, field: str) -> Any:
    try:
        return path.stat()
    except (OSError, ValueError):
        raise RecipeInvalid(f"{field} names nothing in the recipe", code="file_missing") from None


def _source(base: Path, ref: str, field: str) -> SourceSpec:
    if ref.startswith("pkg:"):
        purl = parse_purl(ref)
        if purl.type != "pypi":
            raise RecipeInvalid(
                f"{field}: only pkg:pypi purls can be fetched (not pkg:{purl.type})",
                code="source_unsupported",
            )
        if not purl.version:
            raise RecipeInvalid(f"{field}: the purl needs a @version", code="source_unsupported")
        return SourceSpec("purl", ref, purl=purl)
    path = _inside(base, ref, field)
    mode = _stat(path, field).st_mode
    if stat.S_ISDIR(mode):
        return SourceSpec("directory", ref, path=path)
    if stat.S_ISREG(mode) and path.name.lower().endswith(ARCHIVE_SUFFIXES):
        return SourceSpec("archive", ref, path=path)
    raise RecipeInvalid(
        f"{field} must be a directory, an archive ({', '.join(ARCHIVE_SUFFIXES)}) or a purl",
        code="source_unsupported",
    )


def _regular_file(base: Path, ref: str, field: str, limit: int) -> Path:
    path = _inside(base, ref, field)
    st = _stat(path, field)
    if not stat.S_ISREG(st.st_mode):
        raise RecipeInvalid(f"{field} must be a regular file", code="file_missing")
    if st.st_size > limit:
        raise RecipeInvalid(f"{field} is larger than {limit} bytes", code="file_too_large")
    return path


def _osv_record(path: Path) -> Record:
    try:
        data = orjson.loads(path.read_bytes())
        return Record.model_validate(data)
    except (orjson.JSONDecodeError, ValidationError, RecursionError, OSError):
        raise RecipeInvalid(
            "target.osv must be an OSV record in JSON", code="osv_record_invalid"
        ) from None


def _problems(exc: ValidationError) -> str:
    """The schema's complaints, without echoing the input."""
    return "; ".join(
        f"{'.'.join(str(x) for x in e['loc']) or 'recipe'}: {e['msg']}"
        for e in exc.errors(include_input=False, include_url=False, include_context=False)
    )[:2000]


def parse_recipe_text(text: str, directory: Path) -> Recipe:
    """Parse `recipe.toml`'s text for the recipe in `directory` (which its paths are relative to)."""
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError, ValueError) as exc:
        detail = str(exc)[:300] if isinstance(exc, tomllib.TOMLDecodeError) else "too deeply nested"
        raise RecipeInvalid(
            f"{RECIPE_FILE} is not valid TOML: {detail}", code="recipe_toml_invalid"
        ) from None
    return parse_recipe_data(data, directory)


def parse_recipe_data(data: object, directory: Path) -> Recipe:
    """Check a parsed `recipe.toml` (any object) for the recipe in `directory`."""
    try:
        spec = RecipeFile.model_validate(data)
    except ValidationError as exc:
        raise RecipeInvalid(f"{RECIPE_FILE}: {_problems(exc)}", code="recipe_invalid") from None
    except RecursionError:
        raise RecipeInvalid(f"{RECIPE_FILE} nests too deeply", code="recipe_invalid") from None
    expect = parse_expect(spec.poc.expect)
    poc = _regular_file(directory, spec.poc.file, "poc.file", MAX_POC_BYTES)
    source = _source(directory, spec.target.source, "target.source")
    fixed = (
        _source(directory, spec.target.fixed_source, "target.fixed_source")
        if spec.target.fixed_source is not None
        else None
    )
    record = None
    if spec.target.osv is not None:
        record = _osv_record(_regular_file(directory, spec.target.osv, "target.osv", MAX_OSV_BYTES))
    return Recipe(directory.resolve(), spec, source, fixed, record, poc, expect)


def parse_recipe(directory: Path) -> Recipe:
    """Read and check the recipe in `directory`."""
    try:
        is_dir = directory.is_dir()
    except (OSError, ValueError):
        is_dir = False
    if not is_dir:
        raise RecipeInvalid(f"{directory} is not a directory", code="recipe_missing")
    path = _inside(directory, RECIPE_FILE, RECIPE_FILE)
    try:
        st = path.stat()
    except OSError:
        raise RecipeInvalid(f"the recipe has no {RECIPE_FILE}", code="recipe_missing") from None
    if not stat.S_ISREG(st.st_mode):
        raise RecipeInvalid(f"{RECIPE_FILE} must be a regular file", code="recipe_missing")
    if st.st_size > MAX_RECIPE_BYTES:
        raise RecipeInvalid(
            f"{RECIPE_FILE} is larger than {MAX_RECIPE_BYTES} bytes", code="recipe_too_large"
        )
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise RecipeInvalid(f"{RECIPE_FILE} is not UTF-8", code="recipe_toml_invalid") from None
    return parse_recipe_text(text, directory)
