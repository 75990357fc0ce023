"""A recipe as it arrives over the API or the CLI, and as a validation unpacks it.

An upload is one archive of the recipe directory (tar, tar.gz, tar.bz2, tar.xz or zip), sent as
the body itself or as the `file` field of a multipart/form-data body, or the recipe's files one
by one as repeated `files` fields (each named by its path in the recipe, `vulnerable/prog.c`),
which are packed into a tarball here. Either way the result is one archive, which is what is
sealed at rest (the blob store) and what a validation unpacks, with the validator's checked
extractor, into a temporary directory that is removed afterwards: the recipe is never written
in the clear anywhere else.

Multipart bodies are parsed with the standard library's MIME parser (`email`, RFC 2046, the
format multipart/form-data (RFC 7578) is built on): python-multipart, which FastAPI's form
support needs, is not installed, and the body is bounded before parsing.
"""

from __future__ import annotations

import email.parser
import email.policy
import io
import tarfile
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path, PurePosixPath

from clearinghouse.core.errors import InvalidInput
from clearinghouse.vulns.validation.recipe import Recipe, parse_recipe
from clearinghouse.vulns.validation.sources import extract_archive, member_problem, single_root

MAX_UNPACKED_BYTES = 128 * 1024**2  # an uploaded recipe's tree (a large target: use a purl)
MAX_FILES = 2000  # `files` fields in one multipart body
ARCHIVE_MEDIA_TYPES = frozenset(
    {
        "application/gzip",
        "application/x-gzip",
        "application/x-tar",
        "application/x-gtar",
        "application/x-compressed-tar",
        "application/x-bzip2",
        "application/x-xz",
        "application/zip",
        "application/x-zip-compressed",
        "application/octet-stream",
    }
)


class RecipeUploadInvalid(InvalidInput):
    """The upload is not a recipe archive or a multipart body of one. Codes:
    `recipe_upload_invalid`, `recipe_too_large`, `recipe_empty`."""

    default_code = "recipe_upload_invalid"
    title = "Invalid recipe upload"


@dataclass(frozen=True)
class RecipeUpload:
    """One archive of a recipe directory: what is sealed, and what a validation unpacks."""

    filename: str  # recipe.tar.gz, recipe.zip, ...: the suffix says how to unpack it
    data: bytes


def _suffix(data: bytes) -> str:
    """The archive kind, from its first bytes (a client's file name or media type is not
    trusted for this)."""
    if data[:2] == b"\x1f\x8b":
        return ".tar.gz"
    if data[:4] == b"PK\x03\x04" or data[:4] == b"PK\x05\x06":
        return ".zip"
    if data[:3] == b"BZh":
        return ".tar.bz2"
    if data[:6] == b"\xfd7zXZ\x00":
        return ".tar.xz"
    if data[257:262] == b"ustar":
        return ".tar"
    raise RecipeUploadInvalid(
        "the recipe must be an archive of its directory (tar, tar.gz, tar.bz2, tar.xz or zip)"
    )


def archive(data: bytes, max_bytes: int) -> RecipeUpload:
    """A recipe archive, as sent."""
    if not data:
        raise RecipeUploadInvalid("the recipe upload is empty", code="recipe_empty")
    if len(data) > max_bytes:
        raise RecipeUploadInvalid(
            f"the recipe is larger than {max_bytes} bytes", code="recipe_too_large"
        )
    return RecipeUpload(f"recipe{_suffix(data)}", data)


def pack_files(files: list[tuple[str, bytes]], max_bytes: int) -> RecipeUpload:
    """The recipe's files (path in the recipe, content) as one tarball, paths checked."""
    if not files:
        raise RecipeUploadInvalid("the upload holds no recipe files", code="recipe_empty")
    if len(files) > MAX_FILES:
        raise RecipeUploadInvalid(f"a recipe upload holds at most {MAX_FILES} files")
    buffer = io.BytesIO()
    seen: set[str] = set()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in files:
            clean = name.replace("\\", "/").strip()
            problem = member_problem(clean)
            if problem is not None or not PurePosixPath(clean).parts:
                raise RecipeUploadInvalid(
                    f"a recipe file's name is refused: {problem or 'empty'}", code="archive_refused"
                )
            clean = PurePosixPath(clean).as_posix()
            if clean in seen:
                raise RecipeUploadInvalid(f"the recipe file {clean[:100]!r} is sent twice")
            seen.add(clean)
            info = tarfile.TarInfo(clean)
            info.size, info.mode, info.mtime = len(content), 0o644, int(time.time())
            tar.addfile(info, io.BytesIO(content))
    return archive(buffer.getvalue(), max_bytes)


def _field(part: EmailMessage) -> tuple[str | None, str | None]:
    disposition = part.get("content-disposition")
    if disposition is None or disposition.content_disposition != "form-data":
        return None, None
    name = part.get_param("name", header="content-disposition")
    return (name if isinstance(name, str) else None), part.get_filename()


def from_multipart(content_type: str, body: bytes, max_bytes: int) -> RecipeUpload:
    """The recipe in a multipart/form-data body: one `file` (an archive), or `files` (the
    recipe's files, each named by its path in the recipe)."""
    if len(body) > max_bytes + 1024 * 1024:
        raise RecipeUploadInvalid(
            f"the recipe is larger than {max_bytes} bytes", code="recipe_too_large"
        )
    try:
        header = content_type.encode("ascii")
    except UnicodeEncodeError:
        raise RecipeUploadInvalid("the Content-Type is not ASCII") from None
    if b"\r" in header or b"\n" in header:
        raise RecipeUploadInvalid("the Content-Type is malformed")
    parser = email.parser.BytesParser(policy=email.policy.HTTP)
    try:
        message = parser.parsebytes(b"Content-Type: " + header + b"\r\n\r\n" + body)
        if not isinstance(message, EmailMessage) or not message.is_multipart():
            raise RecipeUploadInvalid("the multipart body has no parts (or no boundary)")
        archives: list[bytes] = []
        files: list[tuple[str, bytes]] = []
        for part in message.iter_parts():
            if not isinstance(part, EmailMessage):
                continue
            name, filename = _field(part)
            payload = part.get_payload(decode=True)
            if not isinstance(payload, bytes):
                raise RecipeUploadInvalid(f"the field {name or '?'} is not a file")
            if name == "file":
                archives.append(payload)
            elif name == "files":
                if not filename:
                    raise RecipeUploadInvalid("each `files` field needs a filename (its path)")
                files.append((filename, payload))
            else:
                raise RecipeUploadInvalid(
                    "a recipe upload has one `file` (an archive) or `files` (the recipe's files)"
                    f"; not {(name or 'an unnamed part')[:40]!r}"
                )
    except (ValueError, TypeError, LookupError, UnicodeError) as exc:  # a malformed part
        raise RecipeUploadInvalid(
            f"the multipart body is malformed ({type(exc).__name__})"
        ) from None
    if (archives and files) or len(archives) > 1:
        raise RecipeUploadInvalid("send one `file` (an archive) or `files`, not both")
    if archives:
        return archive(archives[0], max_bytes)
    return pack_files(files, max_bytes)


def from_body(content_type: str | None, body: bytes, max_bytes: int) -> RecipeUpload:
    """The recipe in a request body, by its media type: multipart/form-data, or an archive."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media == "multipart/form-data":
        return from_multipart(content_type or "", body, max_bytes)
    if media in ARCHIVE_MEDIA_TYPES or not media:
        return archive(body, max_bytes)
    raise RecipeUploadInvalid(
        "send the recipe as multipart/form-data (`file` or `files`) or as an archive "
        "(application/gzip, application/x-tar, application/zip)"
    )


def unpack(upload: RecipeUpload, workdir: Path) -> Recipe:
    """Extract the recipe into `workdir` (a fresh temporary directory) and parse it. A hostile
    archive is `archive_refused`; a bad recipe raises its own code (docs/validation.md)."""
    workdir.mkdir(parents=True, exist_ok=True)
    packed = workdir / upload.filename
    packed.write_bytes(upload.data)
    try:
        extract_archive(
            packed, workdir / "recipe", label="the recipe", max_bytes=MAX_UNPACKED_BYTES
        )
    finally:
        packed.unlink(missing_ok=True)
    return parse_recipe(single_root(workdir / "recipe"))
