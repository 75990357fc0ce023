"""Recipes as the API receives them: archives of example recipes (optionally changed), a tiny
recipe that needs no compiler, and hostile archives."""

from __future__ import annotations

import functools
import io
import tarfile
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "recipes"
HEAP = EXAMPLES / "c-heap-overflow"
# The example program's target, as a report names it (a generic purl: it is no package).
HEAP_TARGET = "pkg:generic/records@1.0"


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    tar.addfile(info, io.BytesIO(data))


def tarball(
    directory: Path | None = None,
    *,
    replace: dict[str, bytes] | None = None,
    top: str | None = "recipe",
) -> bytes:
    """A tar.gz of `directory` (its files under `top/`, as `tar czf x.tgz recipe/` makes),
    with `replace` adding or replacing files by their path in the recipe."""
    files: dict[str, bytes] = {}
    if directory is not None:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                files[path.relative_to(directory).as_posix()] = path.read_bytes()
    files.update(replace or {})
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in sorted(files.items()):
            _add(tar, f"{top}/{name}" if top else name, data)
    return buffer.getvalue()


TINY_RECIPE = b"""
[target]
source = "src"
run = "cat {poc}"

[poc]
file = "poc.txt"
expect = "stdout-regex:^tiny"
"""


def tiny() -> bytes:
    """A well-formed recipe that builds nothing (the authorisation tests never run it)."""
    return tarball(
        replace={"recipe.toml": TINY_RECIPE, "poc.txt": b"tiny\n", "src/main.c": b"int x;\n"}
    )


def heap(*, run: str | None = None, poc: bytes | None = None) -> bytes:
    """The heap-overflow example recipe, its run command or PoC changed if asked."""
    replace: dict[str, bytes] = {}
    if run is not None:
        toml = (HEAP / "recipe.toml").read_text()
        replace["recipe.toml"] = toml.replace('run = "./records {poc}"', f'run = "{run}"').encode()
    if poc is not None:
        replace["poc.bin"] = poc
    return tarball(HEAP, replace=replace)


ESCAPED = "escaped-by-a-recipe.txt"  # where `..` would put it: the temporary directory's parent


def with_dotdot() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        _add(tar, "recipe/recipe.toml", TINY_RECIPE)
        _add(tar, f"recipe/../../../{ESCAPED}", b"out of the tree\n")
    return buffer.getvalue()


def with_symlink() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        _add(tar, "recipe/recipe.toml", TINY_RECIPE)
        link = tarfile.TarInfo("recipe/poc.txt")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    return buffer.getvalue()


@functools.cache
def bomb(unpacked: int = 200 * 1024**2) -> bytes:
    """A gzip'd tar whose one member is `unpacked` bytes of zeros (about 0.1% of it packed)."""
    head = tarfile.TarInfo("recipe/zeros.bin")
    head.size = unpacked
    header = head.tobuf(format=tarfile.GNU_FORMAT)
    out = io.BytesIO()
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    out.write(compressor.compress(header))
    chunk = bytes(1024 * 1024)
    for _ in range(unpacked // len(chunk)):
        out.write(compressor.compress(chunk))
    out.write(compressor.flush())
    return out.getvalue()
