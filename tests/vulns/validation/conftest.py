"""Fixtures of the validation tests: a validator with its own cache, and package indexes served
on 127.0.0.1 (PEP 503), never the internet.

The honest index serves `.cache/test-packages/`, the pinned sdists that
`scripts/fetch-test-packages.sh` downloads; without them the tests that need it skip with a
reason saying "not installed" (a failure under CI=true). `make_index` serves any files, with any
announced hash, for the hostile-index tests.
"""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from packaging.utils import canonicalize_name, parse_sdist_filename

from clearinghouse.core.net import OutboundPolicy
from clearinghouse.vulns.validation.runner import Validator

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples" / "recipes"
PACKAGES = REPO / ".cache" / "test-packages"
PINNED = REPO / "scripts" / "test-packages.txt"
DATA = Path(__file__).parent / "data"
LOOPBACK = OutboundPolicy(allow_private=True, timeout=20, connect_timeout=5)


def pinned_hashes() -> set[str]:
    hashes = set()
    for line in PINNED.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            hashes.add(line.split()[1])
    return hashes


class Index:
    """A PEP 503 simple index on 127.0.0.1: `/simple/<project>/` lists `/files/<name>` with a
    `#sha256=` fragment (the real hash unless `announced` says otherwise)."""

    def __init__(
        self,
        files: dict[str, bytes],
        announced: dict[str, str] | None = None,
        extra_links: list[str] | None = None,
    ) -> None:
        self.files = files
        self.announced = announced or {}
        self.extra_links = extra_links or []
        self.requests: list[str] = []
        index = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                path = unquote(urlsplit(self.path).path)
                index.requests.append(path)
                if path.startswith("/files/") and path[7:] in index.files:
                    self._send(200, index.files[path[7:]], "application/octet-stream")
                    return
                parts = path.strip("/").split("/")
                if len(parts) == 2 and parts[0] == "simple":
                    links = index.links(parts[1])
                    if links:
                        links = index.extra_links + links
                        body = "<!DOCTYPE html><html><body>\n" + "".join(links) + "</body></html>"
                        self._send(200, body.encode(), "text/html")
                        return
                self._send(404, b"not found", "text/plain")

            def _send(self, status: int, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/simple"

    def links(self, project: str) -> list[str]:
        out = []
        for name, data in sorted(self.files.items()):
            try:
                sname, _ = parse_sdist_filename(name)
            except ValueError:
                continue
            if sname == canonicalize_name(project):
                sha = self.announced.get(name, hashlib.sha256(data).hexdigest())
                out.append(f'<a href="/files/{name}#sha256={sha}">{name}</a><br>\n')
        return out

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def package_index() -> Iterator[Index]:
    found = {p.name: p.read_bytes() for p in PACKAGES.glob("*") if p.is_file()}
    missing = pinned_hashes() - {hashlib.sha256(d).hexdigest() for d in found.values()}
    if missing:
        pytest.skip(
            f"the test packages are not installed in {PACKAGES} "
            "(run scripts/fetch-test-packages.sh)"
        )
    index = Index(found)
    yield index
    index.close()


@pytest.fixture
def make_index() -> Iterator[Callable[..., Index]]:
    made: list[Index] = []

    def make(
        files: dict[str, bytes],
        announced: dict[str, str] | None = None,
        extra_links: list[str] | None = None,
    ) -> Index:
        made.append(Index(files, announced, extra_links))
        return made[-1]

    yield make
    for index in made:
        index.close()


@pytest.fixture
def validator(tmp_path: Path, package_index: Index) -> Validator:
    return Validator(tmp_path / "cache", index_url=package_index.url, policy=LOOPBACK)


@pytest.fixture
def offline_validator(tmp_path: Path) -> Validator:
    """A validator whose package index is a closed port: for recipes that fetch nothing."""
    return Validator(tmp_path / "cache", index_url="http://127.0.0.1:9/simple", policy=LOOPBACK)
