"""Target sources: a directory of the recipe, an archive of the recipe, or a released package
named by a purl (`pkg:pypi/NAME@VERSION`), fetched into a content-addressed cache.

Cache layout, under the data directory (`Settings.var_dir / "cache"`):

    sources/<sha256>/archive/<file name>   the archive, named by its sha256
    sources/<sha256>/tree/                 its extracted tree (the single top folder removed)
    sources/pypi/<name>/<hash of version>.json   purl -> sha256, so a second run needs no index

Every archive is checked before anything is written: no absolute path, no `..`, no link that
leaves the tree, no device or FIFO, at most `MAX_MEMBERS` members and `MAX_TREE_BYTES` bytes
unpacked (decompression is capped as it runs). Tarballs are then extracted with Python's `data`
extraction filter as a second line.

Packages come from a PEP 503 simple index (`CLEARINGHOUSE_PACKAGE_INDEX_URL`, default
https://pypi.org/simple) through the outbound policy's client (`core/net.py`), outside the
sandbox; the sandbox itself never has a network. The index's announced sha256 is checked, and
the cache is keyed by it. `pip download` is deliberately not used: to download an sdist, pip
prepares its metadata by running the package's build backend (`setup.py`), which would run the
target's code on the host, outside the sandbox. The index client below is written by hand (the
maintained one, `pypi-simple`, is not a dependency); it reads only anchors, with `packaging`
parsing the file names.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import html.parser
import io
import json
import lzma
import os
import re
import secrets
import shutil
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO
from urllib.parse import unquote, urljoin, urlsplit

import httpx
from packaging.utils import (
    canonicalize_name,
    parse_sdist_filename,
)
from packaging.version import InvalidVersion, Version

from clearinghouse.core.errors import OutboundRefused
from clearinghouse.core.net import OutboundPolicy, check_url, guarded_client
from clearinghouse.vulns.validation.errors import (
    ArchiveRefused,
    RecipeInvalid,
    SourceNotFound,
    SourceUnavailable,
)
from clearinghouse.vulns.validation.recipe import SourceSpec

DEFAULT_INDEX_URL = "https://pypi.org/simple"
MAX_ARCHIVE_BYTES = 64 * 1024**2
MAX_TREE_BYTES = 512 * 1024**2
MAX_MEMBERS = 20_000
MAX_INDEX_PAGE_BYTES = 8 * 1024**2
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Tree:
    """A source ready to build: its root, and the hashes that identify it."""

    root: Path
    sha256: str  # the archive's, or the tree's for a directory
    tree_sha256: str


# --- trees -----------------------------------------------------------------------------------


def _walk(root: Path) -> Iterator[tuple[str, os.stat_result]]:
    """(relative path, lstat) of everything under `root`, sorted, links never followed."""
    stack = [""]
    while stack:
        rel = stack.pop()
        with os.scandir(root / rel if rel else root) as it:
            entries = [(f"{rel}/{entry.name}" if rel else entry.name, entry) for entry in it]
        for child, entry in sorted(entries, reverse=True):
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                stack.append(child)
            yield child, st


def _link_stays_inside(rel: str, target: str) -> bool:
    if target.startswith("/") or not target:
        return False
    joined = os.path.normpath(os.path.join(os.path.dirname(rel), target))
    return not (joined == ".." or joined.startswith(("../", "/")))


def tree_digest(
    root: Path, *, max_files: int = MAX_MEMBERS, max_bytes: int = MAX_TREE_BYTES
) -> str:
    """The content hash of a tree: paths, kinds, the executable bit, file contents and link
    targets. Refuses special files and links that leave the tree (RecipeInvalid)."""
    digest = hashlib.sha256()
    files = total = 0
    for rel, st in sorted(_walk(root)):
        files += 1
        if files > max_files:
            raise RecipeInvalid(
                f"the source has more than {max_files} files", code="source_too_large"
            )
        name = rel.encode("utf-8", "surrogateescape")
        if stat.S_ISDIR(st.st_mode):
            digest.update(b"d\0" + name + b"\0")
        elif stat.S_ISLNK(st.st_mode):
            target = os.readlink(root / rel)
            if not _link_stays_inside(rel, target):
                raise RecipeInvalid(
                    f"the source's link {rel} points outside it", code="path_outside_recipe"
                )
            digest.update(b"l\0" + name + b"\0" + target.encode("utf-8", "surrogateescape") + b"\0")
        elif stat.S_ISREG(st.st_mode):
            total += st.st_size
            if total > max_bytes:
                raise RecipeInvalid(
                    f"the source is larger than {max_bytes} bytes", code="source_too_large"
                )
            content = hashlib.sha256()
            with open(root / rel, "rb") as fh:
                for chunk in iter(lambda: fh.read(_CHUNK), b""):
                    content.update(chunk)
            executable = b"x" if st.st_mode & 0o111 else b"-"
            digest.update(b"f\0" + name + b"\0" + executable + content.digest())
        else:
            raise RecipeInvalid(
                f"the source holds {rel}, which is not a file, folder or link",
                code="source_unsupported",
            )
    return digest.hexdigest()


def copy_tree(src: Path, dst: Path, *, owner: int | None = None) -> None:
    """Copy a checked tree (`tree_digest` passed on it) to `dst`, links as links, modes kept;
    with `owner`, everything is chowned to that uid (the sandbox's unprivileged user)."""
    dst.mkdir(parents=True, exist_ok=True)
    if owner is not None:
        os.chown(dst, owner, owner)
    for rel, st in sorted(_walk(src)):
        target = dst / rel
        if stat.S_ISDIR(st.st_mode):
            target.mkdir()
            target.chmod(0o755)
        elif stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(src / rel), target)
        elif stat.S_ISREG(st.st_mode):
            shutil.copyfile(src / rel, target, follow_symlinks=False)
            target.chmod(0o755 if st.st_mode & 0o111 else 0o644)
        else:
            continue
        if owner is not None:
            os.lchown(target, owner, owner)


def single_root(directory: Path) -> Path:
    """An archive's tree root: its one top-level folder when it has exactly one (sdists do)."""
    entries = list(directory.iterdir())
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        return entries[0]
    return directory


# --- archives --------------------------------------------------------------------------------


def member_problem(name: str) -> str | None:
    """Why an archive member's name is refused (None: it is not)."""
    if not name or "\x00" in name:
        return "an empty name"
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return f"an absolute path ({name[:100]!r})"
    if "\\" in name:
        return f"a backslash in a path ({name[:100]!r})"
    if ".." in PurePosixPath(name).parts:
        return f"a path with '..' ({name[:100]!r})"
    return None


def _decompressed(archive: Path, out: IO[bytes], cap: int) -> None:
    """Write the tar stream of a (compressed) tarball to `out`, refusing it past the cap."""
    name = archive.name.lower()
    opener: io.BufferedIOBase
    if name.endswith((".tar.gz", ".tgz")):
        opener = gzip.open(archive, "rb")
    elif name.endswith((".tar.bz2", ".tbz2")):
        opener = bz2.open(archive, "rb")
    elif name.endswith((".tar.xz", ".txz")):
        opener = lzma.open(archive, "rb")
    else:
        opener = open(archive, "rb")
    total = 0
    with opener as stream:
        while chunk := stream.read(_CHUNK):
            total += len(chunk)
            if total > cap + MAX_MEMBERS * 1024:
                raise ArchiveRefused(f"{archive.name} decompresses past {cap} bytes")
            out.write(chunk)


def _check_tar(tar: tarfile.TarFile, label: str, cap: int) -> None:
    members = 0
    total = 0
    for member in tar:
        members += 1
        if members > MAX_MEMBERS:
            raise ArchiveRefused(f"{label} has more than {MAX_MEMBERS} members")
        if (problem := member_problem(member.name)) is not None:
            raise ArchiveRefused(f"{label} holds {problem}")
        if member.issym():
            if not _link_stays_inside(member.name, member.linkname):
                raise ArchiveRefused(
                    f"{label} holds a link out of the tree ({member.name[:100]!r})"
                )
        elif member.islnk():
            if member_problem(member.linkname) is not None:
                raise ArchiveRefused(f"{label} holds a hard link out of the tree")
        elif not (member.isreg() or member.isdir()):
            raise ArchiveRefused(f"{label} holds a device, FIFO or other special file")
        total += max(member.size, 0)
        if total > cap:
            raise ArchiveRefused(f"{label} unpacks to more than {cap} bytes")


def _extract_tar(archive: Path, dest: Path, label: str, cap: int) -> None:
    plain = dest.parent / f"{dest.name}.tar"
    try:
        with open(plain, "wb") as out:
            _decompressed(archive, out, cap)
        with tarfile.open(plain, "r:") as tar:
            _check_tar(tar, label, cap)
            tar.extractall(dest, filter="data")
    except tarfile.FilterError as exc:
        raise ArchiveRefused(f"{label} was refused on extraction: {exc}"[:500]) from None
    except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError, ValueError):
        raise ArchiveRefused(f"{label} is not a readable archive") from None
    finally:
        plain.unlink(missing_ok=True)


def _extract_zip(archive: Path, dest: Path, label: str, cap: int) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_MEMBERS:
                raise ArchiveRefused(f"{label} has more than {MAX_MEMBERS} members")
            if sum(i.file_size for i in infos) > cap:
                raise ArchiveRefused(f"{label} unpacks to more than {cap} bytes")
            for info in infos:
                if (problem := member_problem(info.filename)) is not None:
                    raise ArchiveRefused(f"{label} holds {problem}")
                kind = stat.S_IFMT(info.external_attr >> 16)
                if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
                    raise ArchiveRefused(f"{label} holds a link or special file")
            for info in infos:
                target = dest / info.filename
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as out:
                    written = 0
                    while chunk := src.read(_CHUNK):
                        written += len(chunk)
                        if written > info.file_size:
                            raise ArchiveRefused(f"{label} holds a member larger than it says")
                        out.write(chunk)
                if (info.external_attr >> 16) & 0o111:
                    target.chmod(0o755)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError):
        raise ArchiveRefused(f"{label} is not a readable archive") from None


def extract_archive(
    archive: Path, dest: Path, *, label: str | None = None, max_bytes: int | None = None
) -> None:
    """Extract a checked archive into the new folder `dest` (ArchiveRefused otherwise), at most
    `max_bytes` unpacked (default `MAX_TREE_BYTES`)."""
    cap = MAX_TREE_BYTES if max_bytes is None else max_bytes
    dest.mkdir(parents=True)
    name = label or archive.name
    if archive.stat().st_size > MAX_ARCHIVE_BYTES:
        raise ArchiveRefused(f"{name} is larger than {MAX_ARCHIVE_BYTES} bytes")
    if archive.name.lower().endswith(".zip"):
        _extract_zip(archive, dest, name, cap)
    else:
        _extract_tar(archive, dest, name, cap)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- the package index -----------------------------------------------------------------------


class _Anchors(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


@dataclass(frozen=True)
class IndexFile:
    filename: str
    url: str
    sha256: str | None


def _read_capped(response: httpx.Response, cap: int, what: str) -> Iterator[bytes]:
    seen = 0
    for chunk in response.iter_bytes():
        seen += len(chunk)
        if seen > cap:
            raise SourceUnavailable(f"{what} is larger than {cap} bytes")
        yield chunk


def sdist_for(client: httpx.Client, index_url: str, name: str, version: str) -> IndexFile:
    """The source distribution of NAME==VERSION on a PEP 503 simple index."""
    project = canonicalize_name(name)
    wanted = Version(version)
    page_url = f"{index_url.rstrip('/')}/{project}/"
    with client.stream("GET", page_url, headers={"Accept": "text/html"}) as response:
        if response.status_code == 404:
            raise SourceNotFound(f"the package index has no project {project}")
        if response.status_code != 200:
            raise SourceUnavailable(
                f"the package index answered {response.status_code} for {project}"
            )
        body = b"".join(_read_capped(response, MAX_INDEX_PAGE_BYTES, "the index page"))
    parser = _Anchors()
    parser.feed(body.decode("utf-8", "replace"))
    candidates = []
    for href in parser.hrefs:
        try:
            url = urljoin(page_url, href)
            parts = urlsplit(url)
            filename = unquote(parts.path.rsplit("/", 1)[-1])
            sname, sversion = parse_sdist_filename(filename)
        except ValueError:  # a malformed URL, InvalidSdistFilename, InvalidVersion
            continue
        if sname != project or sversion != wanted or parts.scheme not in ("http", "https"):
            continue
        fragment = dict(p.split("=", 1) for p in parts.fragment.split("&") if "=" in p)
        sha = fragment.get("sha256")
        candidates.append(IndexFile(filename, url.split("#", 1)[0], sha.lower() if sha else None))
    if not candidates:
        raise SourceNotFound(f"the package index has no source distribution of {project} {version}")
    # A .tar.gz when there is one (the sdist format since PEP 625), else a .zip.
    candidates.sort(key=lambda f: (not f.filename.endswith(".tar.gz"), f.filename))
    return candidates[0]


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class SourceCache:
    """Resolves a recipe's source to a tree, fetching and extracting archives into the cache.

    Nothing in the cache is trusted on reuse: an archive is re-hashed against its name, and a
    tree against the digest recorded when it was extracted; what does not match is fetched or
    extracted again."""

    def __init__(
        self,
        cache_dir: Path,
        *,
        index_url: str | None = None,
        policy: OutboundPolicy | None = None,
    ) -> None:
        self.root = cache_dir / "sources"
        self.index_url = index_url or DEFAULT_INDEX_URL
        self.policy = policy or OutboundPolicy()

    def resolve(self, spec: SourceSpec) -> Tree:
        if spec.kind == "directory":
            assert spec.path is not None
            digest = tree_digest(spec.path)
            return Tree(spec.path, digest, digest)
        if spec.kind == "archive":
            assert spec.path is not None
            return self._unpacked(spec.path, file_sha256(spec.path))
        assert spec.purl is not None and spec.purl.version is not None
        archive, sha = self.fetch_pypi(spec.purl.name, spec.purl.version)
        return self._unpacked(archive, sha)

    # -- archives in the cache

    def _unpacked(self, archive: Path, sha: str) -> Tree:
        """The extracted tree of `archive` (whose sha256 is `sha`): extracted when the cache has
        none, or one whose content no longer has the digest recorded at extraction."""
        final = self.root / sha
        recorded = final / "tree.sha256"
        if (final / "tree").is_dir() and recorded.is_file():
            root = single_root(final / "tree")
            digest = tree_digest(root)
            if digest == recorded.read_text().strip():
                return Tree(root, sha, digest)
        self.root.mkdir(parents=True, exist_ok=True)
        staging = self.root / f".tmp-{secrets.token_hex(8)}"
        try:
            extract_archive(archive, staging / "tree", label=archive.name)
            digest = tree_digest(single_root(staging / "tree"))
            (final / "archive").mkdir(parents=True, exist_ok=True)
            kept = final / "archive" / archive.name
            if archive != kept:
                shutil.copyfile(archive, kept)
            recorded.unlink(missing_ok=True)
            shutil.rmtree(final / "tree", ignore_errors=True)
            os.rename(staging / "tree", final / "tree")
            _write_atomically(recorded, digest)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return Tree(single_root(final / "tree"), sha, digest)

    # -- released packages

    def _pointer(self, project: str, version: str) -> Path:
        key = hashlib.sha256(str(Version(version)).encode()).hexdigest()[:32]
        return self.root / "pypi" / project / f"{key}.json"

    def fetch_pypi(self, name: str, version: str) -> tuple[Path, str]:
        """The sdist of NAME==VERSION in the cache (downloading it when absent, or when the
        cached file no longer has its sha256): its path and sha256."""
        project = canonicalize_name(name)
        try:
            Version(version)
        except InvalidVersion:
            raise RecipeInvalid(
                f"{version!r} is not a PEP 440 version", code="source_unsupported"
            ) from None
        pointer = self._pointer(project, version)
        if (cached := self._pointed(pointer)) is not None:
            return cached
        archive, sha = self._download(project, version)
        pointer.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(pointer, json.dumps({"sha256": sha, "filename": archive.name}))
        return archive, sha

    def _pointed(self, pointer: Path) -> tuple[Path, str] | None:
        """The cached archive a purl's pointer names, if it is there and has its sha256."""
        try:
            known = json.loads(pointer.read_text())
            sha, filename = str(known["sha256"]), str(known["filename"])
        except (OSError, ValueError, KeyError, TypeError):
            return None  # absent, or not a pointer we wrote: fetch again
        if not re.fullmatch(r"[0-9a-f]{64}", sha) or member_problem(filename) or "/" in filename:
            return None
        cached = self.root / sha / "archive" / filename
        if cached.is_file() and file_sha256(cached) == sha:
            return cached, sha
        return None

    def _download(self, project: str, version: str) -> tuple[Path, str]:
        try:
            check_url(self.index_url, self.policy, name="package index")
            with guarded_client(self.policy) as client:
                found = sdist_for(client, self.index_url, project, version)
                self.root.mkdir(parents=True, exist_ok=True)
                partial = self.root / f".tmp-{secrets.token_hex(8)}"
                try:
                    sha = self._stream_to(client, found, partial)
                    cached = self.root / sha / "archive" / found.filename
                    cached.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(partial, cached)
                    return cached, sha
                finally:
                    partial.unlink(missing_ok=True)
        except OutboundRefused as exc:
            raise SourceUnavailable(
                f"the package index is refused by the outbound policy: {exc.detail}",
                code="index_refused",
            ) from None
        except httpx.HTTPError as exc:
            raise SourceUnavailable(
                f"the package index could not be reached ({type(exc).__name__})"
            ) from None

    @staticmethod
    def _stream_to(client: httpx.Client, found: IndexFile, path: Path) -> str:
        """Download `found` to `path` (size capped) and check the sha256 the index announced."""
        digest = hashlib.sha256()
        with client.stream("GET", found.url) as response, open(path, "wb") as out:
            if response.status_code != 200:
                raise SourceUnavailable(
                    f"the package index answered {response.status_code} for {found.filename}"
                )
            for chunk in _read_capped(response, MAX_ARCHIVE_BYTES, found.filename):
                digest.update(chunk)
                out.write(chunk)
        sha = digest.hexdigest()
        if found.sha256 is not None and found.sha256 != sha:
            raise SourceUnavailable(
                f"{found.filename} does not have the sha256 the index announced",
                code="source_hash_mismatch",
            )
        return sha
