"""Validation: build the target once in the sandbox (cached by content), run the PoC on the
vulnerable build and on the fixed build, and decide.

Every step that runs recipe code runs in a fresh bubblewrap sandbox (`sandbox.bwrap.Sandbox`):
no network, a read-only system, nothing of the host but the staged tree, limits from the recipe
(capped), and teardown that kills what the step left running. What crosses back to the host:

* a build's output, packed by `tar` inside the sandbox and extracted on the host by the same
  checked extractor as any archive (`sources.extract_archive`: no absolute path, no `..`, no link
  out), so a build cannot plant a link that the host would follow;
* a run's stdout and stderr, written to files inside the sandbox (each capped by the file-size
  limit) and read with `O_NOFOLLOW` and a size cap, never into unbounded memory.

Builds are cached under `<cache>/builds/<key>/`, the key being the sha256 of the source tree's
content hash, the build command and the toolchain (the compiler's and Python's version lines),
so the second validation of a recipe does not build again (`build_cached` in the result). A run
always gets its own copy of the cached tree: a PoC cannot alter the cache.

A sandbox that does not start, or fails a trivial liveness command before the step, is the
verdict `error` (with `error_code`), never `not_reproduced`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import secrets
import shlex
import shutil
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from clearinghouse.core.config import Settings
from clearinghouse.core.errors import ClearinghouseError, InvalidInput
from clearinghouse.core.net import OutboundPolicy
from clearinghouse.sandbox import asan
from clearinghouse.sandbox.bwrap import SANDBOX_PATH, WORKDIR, Limits, Sandbox
from clearinghouse.sandbox.errors import SandboxBroken
from clearinghouse.vulns.osv import Record
from clearinghouse.vulns.purls import parse_purl
from clearinghouse.vulns.validation.errors import ArchiveRefused, SourceUnavailable
from clearinghouse.vulns.validation.expect import (
    Judgement,
    Observation,
    Undecidable,
    bounded,
    judge,
)
from clearinghouse.vulns.validation.fixed import fixed_purl
from clearinghouse.vulns.validation.recipe import (
    POC_PLACEHOLDER,
    Recipe,
    RecipeLimits,
    SourceSpec,
    parse_recipe,
)
from clearinghouse.vulns.validation.schemas import (
    FixedVerdict,
    SourceRef,
    ValidationResult,
    Verdict,
)
from clearinghouse.vulns.validation.sources import (
    SourceCache,
    Tree,
    copy_tree,
    extract_archive,
    tree_digest,
)

CACHE_VERSION = "1"
RUN_ENV = {
    **asan.ENV,
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONHASHSEED": "0",
}
OUTPUT_BYTES = 1024 * 1024  # read from each end of a stdout or stderr file
RUN_FILE_BYTES = 64 * 1024**2  # the file-size limit in runs: caps what the PoC can print
BUILD_OUTPUT_BYTES = 512 * 1024**2
PROBE = "echo sandbox-ok"
OUT = ".out"  # in the workdir: where a step's stdout and stderr go


class BuildFailed(Exception):
    def __init__(self, log: str) -> None:
        super().__init__(log)
        self.log = log


@dataclass(frozen=True)
class Built:
    root: Path  # the tree a run stages
    cached: bool | None  # None when the recipe has nothing to build
    seconds: float | None


@functools.cache
def toolchain() -> str:
    """What a build's output depends on besides its source and command: the first version line
    of the compiler and of Python that the sandbox's PATH finds."""
    lines = []
    for tool, flag in (("gcc", "--version"), ("cc", "--version"), ("python3", "--version")):
        path = shutil.which(tool, path=SANDBOX_PATH)
        if path is None:
            lines.append(f"{tool}: none")
            continue
        try:
            done = subprocess.run([path, flag], capture_output=True, text=True, timeout=30)
            first = (done.stdout or done.stderr).strip().splitlines()[:1]
        except (OSError, subprocess.SubprocessError):
            first = []
        lines.append(f"{tool}: {first[0] if first else 'unknown'}")
    return "; ".join(lines)


def _intact(entry: Path) -> bool:
    """Is this build cache entry there, with the content it had when it was stored? (A cache
    entry altered since is built again, never run.)"""
    try:
        recorded = (entry / "tree.sha256").read_text().strip()
        return (entry / "tree").is_dir() and tree_digest(entry / "tree") == recorded
    except (OSError, InvalidInput):
        return False


def _owner(box: Sandbox) -> int | None:
    return box.host_uid if os.geteuid() == 0 else None


def _probe(box: Sandbox) -> None:
    """The sandbox must run a trivial command before a step's result can mean anything."""
    outcome = box.run(["/bin/sh", "-c", PROBE], timeout=60)
    if outcome.returncode != 0 or outcome.stdout.strip() != "sandbox-ok":
        raise SandboxBroken(
            f"the sandbox failed its liveness check (exit status {outcome.returncode})"
        )


def _read_output(path: Path) -> str:
    """A step's stdout or stderr file, read without following links, at most `OUTPUT_BYTES`
    from each end."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return ""  # the PoC removed or replaced it
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return ""
        if st.st_size <= 2 * OUTPUT_BYTES:
            data = fh.read(2 * OUTPUT_BYTES)
        else:
            head = fh.read(OUTPUT_BYTES)
            fh.seek(st.st_size - OUTPUT_BYTES)
            data = head + b"\n[... output cut ...]\n" + fh.read(OUTPUT_BYTES)
    return data.decode("utf-8", "replace")


def _stage_out(box: Sandbox, owner: int | None) -> Path:
    out = box.workdir / OUT
    out.mkdir()
    out.chmod(0o755)
    if owner is not None:
        os.chown(out, owner, owner)
    return out


def _redirected(command: str) -> str:
    return f"exec >{WORKDIR}/{OUT}/stdout 2>{WORKDIR}/{OUT}/stderr </dev/null\n{command}"


def _limits(limits: RecipeLimits, *, build: bool) -> Limits:
    if build:
        return Limits(
            cpu_seconds=limits.build_seconds,
            wall_seconds=float(limits.build_seconds),
            memory_bytes=max(limits.memory_mb, 1024) * 1024**2,
            processes=max(limits.processes, 64),
        )
    return Limits(
        cpu_seconds=limits.cpu_seconds,
        wall_seconds=float(limits.wall_seconds),
        memory_bytes=limits.memory_mb * 1024**2,
        processes=limits.processes,
        file_bytes=RUN_FILE_BYTES,
    )


class Validator:
    """Validates recipes, with its caches under `cache_dir` (the data directory's `cache/`)."""

    def __init__(
        self,
        cache_dir: Path,
        *,
        index_url: str | None = None,
        policy: OutboundPolicy | None = None,
    ) -> None:
        self.cache_dir = cache_dir
        self.sources = SourceCache(cache_dir, index_url=index_url, policy=policy)
        self.builds = cache_dir / "builds"

    # --- the entry points ----------------------------------------------------------------

    def validate(self, directory: Path, *, osv_record: Record | None = None) -> ValidationResult:
        """Validate the recipe in `directory`. A bad recipe raises an `InvalidInput` with a
        stable code; anything else gives a result, whose verdict may be `error`. The recipe's
        own `target.osv` record wins over `osv_record` (the record a report is filed against)."""
        return self.validate_recipe(parse_recipe(directory), osv_record=osv_record)

    def validate_recipe(
        self, recipe: Recipe, *, osv_record: Record | None = None
    ) -> ValidationResult:
        started = time.monotonic()
        result = ValidationResult(
            verdict=Verdict.error,
            fixed_verdict=FixedVerdict.not_run,
            expect=str(recipe.expect),
            advisories=recipe.advisories,
        )
        try:
            self._validate(recipe, recipe.osv_record or osv_record, result)
        except InvalidInput:
            raise
        except (ClearinghouseError, Undecidable, OSError) as exc:
            code = getattr(exc, "code", None) or (
                "expect_undecidable" if isinstance(exc, Undecidable) else "harness_failed"
            )
            if isinstance(exc, ClearinghouseError):
                detail = exc.detail
            else:
                detail = str(exc) if isinstance(exc, Undecidable) else type(exc).__name__
            result.verdict = Verdict.error
            result.fixed_verdict = FixedVerdict.not_run
            result.error_code = code
            result.evidence = bounded(f"validation error [{code}]: {detail}")
        result.timings.total_seconds = round(time.monotonic() - started, 3)
        return result

    # --- the steps -------------------------------------------------------------------------

    def _validate(self, recipe: Recipe, record: Record | None, result: ValidationResult) -> None:
        tree = self.sources.resolve(recipe.source)
        result.source = _ref(recipe.source, tree)
        fixed_spec, derived_from = self._fixed_spec(recipe, record, result)
        fixed_tree: Tree | None = None
        if fixed_spec is not None:
            try:
                fixed_tree = self.sources.resolve(fixed_spec)
            except (InvalidInput, SourceUnavailable) as exc:
                if derived_from is None:
                    raise  # the recipe named it: a bad recipe, or an error
                result.notes.append(f"the derived fixed source {fixed_spec.ref}: {exc.detail}")
            if fixed_tree is not None:
                result.fixed_source = _ref(fixed_spec, fixed_tree, derived_from)

        limits = recipe.spec.target.limits
        try:
            built = self._build(tree, recipe)
        except BuildFailed as exc:
            result.verdict = Verdict.build_failed
            result.evidence = bounded(exc.log)
            return
        result.build_cached, result.timings.build_seconds = built.cached, built.seconds
        obs, seconds = self._run(built, recipe, limits)
        result.timings.run_seconds = seconds
        verdict = judge(recipe.expect, obs)
        result.verdict = Verdict.reproduced if verdict.matched else Verdict.not_reproduced
        result.crash_type, result.signature = verdict.crash_type, verdict.signature
        result.evidence, result.exit_code, result.timed_out = (
            verdict.evidence,
            obs.returncode,
            obs.timed_out,
        )
        if result.verdict is not Verdict.reproduced or fixed_tree is None:
            if result.verdict is Verdict.reproduced:
                result.notes.append("no fixed source: the fix was not checked")
            return

        try:
            fixed_built = self._build(fixed_tree, recipe)
        except BuildFailed as exc:
            result.fixed_verdict = FixedVerdict.build_failed
            result.fixed_evidence = bounded(exc.log)
            return
        result.fixed_build_cached = fixed_built.cached
        result.timings.fixed_build_seconds = fixed_built.seconds
        fixed_obs, fixed_seconds = self._run(fixed_built, recipe, limits)
        result.timings.fixed_run_seconds = fixed_seconds
        again: Judgement = judge(recipe.expect, fixed_obs)
        result.fixed_verdict = (
            FixedVerdict.still_reproduces if again.matched else FixedVerdict.fixed_confirmed
        )
        result.fixed_signature = again.signature
        result.fixed_evidence = again.evidence
        result.fixed_exit_code = fixed_obs.returncode

    def _fixed_spec(
        self, recipe: Recipe, record: Record | None, result: ValidationResult
    ) -> tuple[SourceSpec | None, str | None]:
        if recipe.fixed_source is not None:
            return recipe.fixed_source, None
        if recipe.source.kind != "purl" or recipe.source.purl is None:
            return None, None
        if record is None:
            result.notes.append("no fixed source: the recipe names none and no OSV record")
            return None, None
        purl, why = fixed_purl(record, recipe.source.purl)
        result.notes.append(f"fixed source: {purl or 'none'} ({why})")
        if purl is None:
            return None, None
        return SourceSpec("purl", purl, purl=parse_purl(purl)), record.id

    def _build_key(self, tree: Tree, command: str) -> str:
        material = {
            "cache": CACHE_VERSION,
            "tree": tree.tree_sha256,
            "build": command,
            "toolchain": toolchain(),
        }
        return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()

    def _build(self, tree: Tree, recipe: Recipe) -> Built:
        command = recipe.spec.target.build
        if command is None:
            return Built(tree.root, None, None)
        started = time.monotonic()
        final = self.builds / self._build_key(tree, command)
        if _intact(final):
            return Built(final / "tree", True, round(time.monotonic() - started, 3))
        self.builds.mkdir(parents=True, exist_ok=True)
        staging = self.builds / f".tmp-{secrets.token_hex(8)}"
        staging.mkdir()
        try:
            limits = _limits(recipe.spec.target.limits, build=True)
            with Sandbox(limits=limits) as box:
                owner = _owner(box)
                copy_tree(tree.root, box.workdir / "src", owner=owner)
                out = _stage_out(box, owner)
                _probe(box)
                done = box.run(
                    ["/bin/sh", "-c", _redirected(command)],
                    cwd="src",
                    timeout=limits.wall_seconds,
                )
                log = _read_output(out / "stderr") + _read_output(out / "stdout")
                if done.timed_out:
                    raise BuildFailed(
                        f"the build was killed after {limits.wall_seconds:.0f}s\n{log}"
                    )
                if done.returncode != 0:
                    raise BuildFailed(f"the build exited with status {done.returncode}\n{log}")
                packed = box.run(
                    ["tar", "-C", f"{WORKDIR}/src", "-cf", f"{WORKDIR}/{OUT}/build.tar", "."],
                    timeout=limits.wall_seconds,
                )
                if packed.returncode != 0:
                    raise BuildFailed("the build's output could not be packed")
                self._take_tar(out / "build.tar", staging / "build.tar")
            try:
                extract_archive(staging / "build.tar", staging / "tree", label="the build output")
            except ArchiveRefused as exc:
                raise BuildFailed(f"the build's output was refused: {exc.detail}") from None
            (staging / "build.tar").unlink()
            (staging / "tree.sha256").write_text(tree_digest(staging / "tree"))
            shutil.rmtree(final, ignore_errors=True)  # absent, or not intact
            try:
                os.rename(staging, final)
            except OSError:
                if not _intact(final):  # not a concurrent build that got there first
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return Built(final / "tree", False, round(time.monotonic() - started, 3))

    @staticmethod
    def _take_tar(source: Path, dest: Path) -> None:
        """Copy the packed build output out of the sandbox: no link followed, size capped."""
        try:
            fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            raise BuildFailed("the build's output could not be packed") from None
        with os.fdopen(fd, "rb") as src:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_size > BUILD_OUTPUT_BYTES:
                raise BuildFailed(
                    f"the build's output is not a file of at most {BUILD_OUTPUT_BYTES} bytes"
                )
            with open(dest, "wb") as out:
                shutil.copyfileobj(src, out)

    def _run(self, built: Built, recipe: Recipe, limits: RecipeLimits) -> tuple[Observation, float]:
        started = time.monotonic()
        sandbox_limits = _limits(limits, build=False)
        poc_in_box = f"{WORKDIR}/poc/{recipe.poc_name}"
        command = recipe.spec.target.run.replace(POC_PLACEHOLDER, shlex.quote(poc_in_box))
        with Sandbox(limits=sandbox_limits) as box:
            owner = _owner(box)
            copy_tree(built.root, box.workdir / "src", owner=owner)
            box.put_file(f"poc/{recipe.poc_name}", recipe.poc_path.read_bytes())
            out = _stage_out(box, owner)
            _probe(box)
            done = box.run(
                ["/bin/sh", "-c", _redirected(command)],
                cwd="src",
                env=RUN_ENV,
                timeout=sandbox_limits.wall_seconds,
            )
            obs = Observation(
                returncode=done.returncode,
                stdout=_read_output(out / "stdout"),
                stderr=_read_output(out / "stderr"),
                timed_out=done.timed_out,
            )
        return obs, round(time.monotonic() - started, 3)


def _ref(spec: SourceSpec, tree: Tree, derived_from: str | None = None) -> SourceRef:
    return SourceRef(
        kind=spec.kind,
        ref=spec.ref,
        sha256=tree.sha256,
        tree_sha256=tree.tree_sha256,
        derived_from=derived_from,
    )


def validator_for(settings: Settings) -> Validator:
    """The validator of a deployment: caches under `<var_dir>/cache`, fetches released packages
    from `package_index_url` through the outbound policy."""
    return Validator(
        settings.var_dir / "cache",
        index_url=settings.package_index_url,
        policy=OutboundPolicy.from_settings(settings),
    )
