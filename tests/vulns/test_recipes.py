"""Recipe uploads, without a database: whatever the body and its Content-Type, the upload parser
and the unpacker raise nothing but an `InvalidInput` with a code (the API's 422), and a well-formed
upload (an archive, a multipart `file`, or multipart `files`) becomes the same recipe."""

from __future__ import annotations

import tempfile
from pathlib import Path

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clearinghouse.core.errors import InvalidInput
from clearinghouse.vulns import recipes
from tests.vulns import recipe_kit

CAP = 1024 * 1024
CONTENT_TYPES = st.one_of(
    st.sampled_from(
        [
            "multipart/form-data; boundary=xyz",
            "multipart/form-data",
            'multipart/form-data; boundary="a b"',
            "application/gzip",
            "application/zip",
            "application/octet-stream",
            "text/plain",
            "",
        ]
    ),
    st.text(max_size=80),
)


def _multipart(files: dict[str, tuple[str, bytes]]) -> tuple[str, bytes]:
    request = httpx.Request(
        "POST",
        "http://x/",
        files={k: (n, d, "application/octet-stream") for k, (n, d) in files.items()},
    )
    return request.headers["content-type"], request.read()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content_type=CONTENT_TYPES, body=st.binary(max_size=4000))
def test_any_body_is_a_recipe_or_a_coded_refusal(content_type: str, body: bytes) -> None:
    try:
        upload = recipes.from_body(content_type, body, CAP)
    except InvalidInput as exc:
        assert exc.code
        return
    with tempfile.TemporaryDirectory() as tmp:
        try:
            recipes.unpack(upload, Path(tmp))
        except InvalidInput as exc:
            assert exc.code


@settings(max_examples=150, deadline=None)
@given(
    parts=st.lists(
        st.tuples(
            st.sampled_from(["file", "files", "other", ""]),
            st.text(max_size=40),
            st.binary(max_size=300),
        ),
        max_size=5,
    ),
    tail=st.binary(max_size=50),
)
def test_any_multipart_body_is_a_recipe_or_a_coded_refusal(
    parts: list[tuple[str, str, bytes]], tail: bytes
) -> None:
    body = b""
    for name, filename, data in parts:
        body += (
            (
                f'--xyz\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n\r\n'
            ).encode("utf-8", "replace")
            + data
            + b"\r\n"
        )
    body += b"--xyz--\r\n" + tail
    try:
        upload = recipes.from_body("multipart/form-data; boundary=xyz", body, CAP)
    except InvalidInput as exc:
        assert exc.code
        return
    with tempfile.TemporaryDirectory() as tmp:
        try:
            recipes.unpack(upload, Path(tmp))
        except InvalidInput as exc:
            assert exc.code


def test_an_archive_a_file_field_and_files_fields_give_the_same_recipe(tmp_path: Path) -> None:
    archive = recipe_kit.tiny()
    kinds = [
        recipes.from_body("application/gzip", archive, CAP),
        recipes.from_body(*_multipart({"file": ("anything.bin", archive)}), CAP),
        recipes.pack_files(
            [
                ("recipe.toml", recipe_kit.TINY_RECIPE),
                ("poc.txt", b"tiny\n"),
                ("src/main.c", b"int x;\n"),
            ],
            CAP,
        ),
    ]
    parsed = []
    for n, upload in enumerate(kinds):
        assert upload.filename == "recipe.tar.gz"
        recipe = recipes.unpack(upload, tmp_path / str(n))
        parsed.append((recipe.spec, recipe.poc_path.read_bytes()))
        assert not (tmp_path / str(n) / "recipe.tar.gz").exists()  # the packed copy is gone
    assert parsed[0] == parsed[1] == parsed[2]


def test_the_archive_kind_comes_from_its_bytes_not_its_name() -> None:
    assert recipes.from_body("application/zip", recipe_kit.tiny(), CAP).filename.endswith(".tar.gz")
    for bad in (b"", b"PK", b"\x1f", b"plain text"):
        try:
            recipes.archive(bad, CAP)
        except InvalidInput as exc:
            assert exc.code in ("recipe_empty", "recipe_upload_invalid")
        else:
            raise AssertionError(bad)
