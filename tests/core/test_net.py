"""The outbound-call policy (core/net.py), played against by an attacker.

Every server here is real and listens on 127.0.0.1; names are resolved by an injected resolver,
so no test sends a packet anywhere else (a "public" answer is only ever checked, never dialled).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.container import Services
from clearinghouse.core.config import Settings
from clearinghouse.core.errors import OutboundRefused
from clearinghouse.core.net import (
    OutboundPolicy,
    address_refusal,
    check_url,
    guarded_async_client,
    guarded_client,
)
from clearinghouse.reviews import access
from clearinghouse.reviews.errors import AccessVerificationFailed, EndpointRefused
from clearinghouse.reviews.models import Submission
from tests.support.world import World

API_KEY = "sk-lab-secret-4f9a2c"
PUBLIC = "93.184.215.14"  # a public address: checked by the policy, never connected to

# --- a recording server on 127.0.0.1 ------------------------------------------------------


@dataclass
class Recorder:
    port: int = 0
    connections: list[tuple[str, int]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"127.0.0.1:{self.port}"


@contextmanager
def serve(*, tls: ssl.SSLContext | None = None, redirect_to: str = "") -> Iterator[Recorder]:
    """A fake OpenAI-compatible endpoint that records every connection and request.

    GET /v1/models and POST /v1/chat/completions answer like an OpenAI endpoint; GET
    /v1/redirect/models answers 302 to `redirect_to`; anything else (a proxied request) 200 {}.
    """
    rec = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: dict[str, Any], **headers: str) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _record(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            rec.requests.append(
                {"method": self.command, "path": self.path, "headers": dict(self.headers)}
                | {"body": body}
            )

        def do_GET(self) -> None:
            self._record()
            if self.path == "/v1/models":
                self._answer(200, {"object": "list", "data": [{"id": "frontier-x"}]})
            elif self.path == "/v1/redirect/models":
                self._answer(302, {}, Location=redirect_to)
            else:
                self._answer(200, {})

        def do_POST(self) -> None:
            self._record()
            completion = {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 0,
                "model": "some-model",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "pong"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
            self._answer(200, completion)

        def log_message(self, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def verify_request(self, request: Any, client_address: Any) -> bool:
            rec.connections.append(client_address)
            return True

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # a client that gives up mid-handshake is expected in these tests

    server = Server(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    rec.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()


# --- resolvers an attacker controls --------------------------------------------------------


def answers(addresses: Sequence[str], port: int = 0) -> list[tuple[Any, ...]]:
    """What getaddrinfo returns for these addresses."""
    return [
        (10, 1, 6, "", (a, port, 0, 0)) if ":" in a else (2, 1, 6, "", (a, port)) for a in addresses
    ]


def dns(*addresses: str) -> Any:
    """A resolver that answers every name with these addresses."""
    return lambda host, port: answers(addresses, port)


class Rebinder:
    """First answer public (what the creation-time check sees), then loopback (at connect)."""

    def __init__(self, first: str = PUBLIC, then: str = "127.0.0.1") -> None:
        self.first, self.then, self.calls = first, then, 0

    def __call__(self, host: str, port: int) -> list[tuple[Any, ...]]:
        self.calls += 1
        return answers([self.first if self.calls == 1 else self.then], port)


def policy(allow_private: bool, resolver: Any) -> OutboundPolicy:
    return OutboundPolicy(allow_private=allow_private, resolver=resolver, timeout=5.0)


# --- the address rule ----------------------------------------------------------------------

# (address, what `is_global` says on Python 3.11.7; other patch releases differ, so it is shown,
# not asserted): the True ones are what `is_global` alone lets through. The policy refuses every
# one of them when private endpoints are not allowed.
REFUSED = [
    ("100.100.100.200", False),  # CGNAT; Alibaba Cloud metadata. Not is_private either.
    ("100.64.0.1", False),
    ("192.0.0.192", True),  # IETF protocol block; Oracle Cloud metadata
    ("192.0.0.9", True),
    ("198.18.0.1", False),  # benchmarking
    ("198.19.255.254", False),
    ("240.0.0.1", False),  # reserved
    ("255.255.255.255", False),  # limited broadcast
    ("224.0.0.1", True),  # multicast
    ("239.255.255.250", True),
    ("0.0.0.0", False),  # noqa: S104 (unspecified)
    ("127.0.0.1", False),
    ("10.1.2.3", False),
    ("172.16.0.1", False),
    ("192.168.1.1", False),
    ("169.254.169.254", False),  # link-local: AWS/GCP/Azure metadata
    ("fc00::1", False),  # unique local fc00::/7
    ("fd12:3456::1", False),
    ("fe80::1", False),  # link-local fe80::/10
    ("ff02::1", True),  # multicast ff00::/8
    ("ff0e::1", True),
    ("::", False),
    ("::1", False),
    ("fec0::1", True),  # deprecated site-local
    ("3fff::1", True),  # documentation (2024)
    ("5f00::1", True),  # SRv6 SIDs
    ("2002:7f00:1::1", True),  # 6to4 of 127.0.0.1
    ("2002:a9fe:a9fe::1", True),  # 6to4 of 169.254.169.254
    ("::ffff:127.0.0.1", False),  # IPv4-mapped
    ("::ffff:100.100.100.200", True),
    ("::127.0.0.1", True),  # IPv4-compatible (deprecated)
    ("64:ff9b::7f00:1", True),  # NAT64 of 127.0.0.1
    ("64:ff9b::a9fe:a9fe", True),  # NAT64 of 169.254.169.254
    ("64:ff9b:1::1", True),  # local-use NAT64
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", False),  # Teredo, client 127.0.0.1
]
PUBLIC_OK = ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1"]
PUBLIC_OK += ["64:ff9b::808:808"]
NEVER = ["224.0.0.1", "ff02::1", "0.0.0.0", "::", "255.255.255.255", "2002:e000:1::1"]  # noqa: S104
NEVER += ["::ffff:0.0.0.0", "64:ff9b::e000:1"]
PRIVATE_OK_IN_DEV = ["127.0.0.1", "::1", "10.0.0.1", "fd00::1", "100.100.100.200", "::ffff:7f00:1"]


def _url_host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


@pytest.mark.parametrize(("address", "python_is_global"), REFUSED)
def test_every_non_public_address_is_refused_as_a_literal(
    address: str, python_is_global: bool
) -> None:
    """The defect addresses that `is_global` (or the old private/loopback checks) let through."""
    assert address_refusal(ipaddress.ip_address(address), allow_private=False) is not None
    with pytest.raises(EndpointRefused) as info:
        access.validate_endpoint_url(f"https://{_url_host(address)}/v1", allow_private=False)
    assert info.value.code == "endpoint_refused"
    assert info.value.extra["reason"] == "address"
    assert address.split("%")[0] in info.value.detail or "resolves to" in info.value.detail


@pytest.mark.parametrize(("address", "python_is_global"), REFUSED)
def test_a_hostname_that_resolves_to_a_non_public_address_is_refused(
    address: str, python_is_global: bool
) -> None:
    with pytest.raises(EndpointRefused) as info:
        access.validate_endpoint_url(
            "https://lab.example/v1", allow_private=False, policy=policy(False, dns(address))
        )
    assert info.value.code == "endpoint_refused" and "lab.example" in info.value.detail


def test_one_bad_answer_among_good_ones_is_enough_to_refuse() -> None:
    with pytest.raises(OutboundRefused, match=r"127\.0\.0\.1"):
        check_url("https://lab.example/v1", policy(False, dns(PUBLIC, "8.8.8.8", "127.0.0.1")))


@pytest.mark.parametrize("address", PUBLIC_OK)
def test_public_addresses_pass(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address), allow_private=False) is None
    check_url("https://lab.example/v1", policy(False, dns(address)))


@pytest.mark.parametrize("address", NEVER)
def test_multicast_unspecified_and_broadcast_are_refused_even_in_development(address: str) -> None:
    with pytest.raises(OutboundRefused):
        check_url("http://lab.example/v1", policy(True, dns(address)))


@pytest.mark.parametrize("address", PRIVATE_OK_IN_DEV)
def test_development_allows_loopback_and_private_addresses(address: str) -> None:
    check_url("http://lab.example/v1", policy(True, dns(address)))
    check_url(f"http://{_url_host(address)}:8000/v1", policy(True, dns()))


@pytest.mark.parametrize(
    ("url", "allow_private", "reason"),
    [
        ("ftp://lab.example/v1", True, "scheme"),
        ("https:///v1", True, "scheme"),
        ("not a url at all", True, "scheme"),
        ("https://user:pw@lab.example/v1", True, "credentials"),
        ("https://:pw@lab.example/v1", True, "credentials"),
        ("http://lab.example/v1", False, "https_required"),
        ("https://nowhere.example/v1", False, "unresolvable"),
    ],
)
def test_static_checks_have_clear_messages_and_stable_codes(
    url: str, allow_private: bool, reason: str
) -> None:
    def resolver(host: str, port: int) -> list[tuple[Any, ...]]:
        if host == "nowhere.example":
            raise OSError("Name or service not known")
        return answers([PUBLIC])

    with pytest.raises(OutboundRefused) as info:
        check_url(url, policy(allow_private, resolver), name="endpoint_url")
    assert info.value.code == "endpoint_refused" and info.value.extra["reason"] == reason
    assert "pw" not in info.value.detail


# --- connect time: rebinding, pinning, TLS, redirects, proxies -----------------------------


def test_dns_rebinding_is_refused_at_connect_time_before_any_byte_is_sent() -> None:
    """The name is public when the endpoint is stored, loopback when verify-access connects."""
    rebinder = Rebinder()
    strict = policy(False, rebinder)
    with serve() as server:
        url = f"https://lab.example:{server.port}/v1"
        assert access.validate_endpoint_url(url, allow_private=False, policy=strict) == url
        with pytest.raises(EndpointRefused) as info:
            access.check_models_endpoint(url, API_KEY, strict)
        assert rebinder.calls == 2
        assert server.connections == [] and server.requests == []
    assert info.value.code == "endpoint_refused" and "127.0.0.1" in info.value.detail
    assert API_KEY not in info.value.detail and API_KEY not in repr(info.value.extra)


def test_the_connection_is_pinned_to_the_checked_address_and_keeps_the_host_name() -> None:
    lookups: list[str] = []

    def resolver(host: str, port: int) -> list[tuple[Any, ...]]:
        lookups.append(host)
        return answers(["127.0.0.1"], port)

    with serve() as server:
        url = f"http://lab.internal.test:{server.port}/v1"
        result = access.check_models_endpoint(url, API_KEY, policy(True, resolver))
    assert result.models == ["frontier-x"]
    assert lookups == ["lab.internal.test"]
    [request] = server.requests
    assert request["headers"]["Host"] == f"lab.internal.test:{server.port}"
    assert request["headers"]["Authorization"] == f"Bearer {API_KEY}"


def _tls_pair(tmp: Path, name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A throwaway CA and a server certificate for `name`: (server context, client context)."""
    now = dt.datetime.now(dt.UTC)

    def cert(subject: str, key: Any, issuer: str, signer: Any, ca: bool) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key, leaf_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca = cert("test ca", ca_key, "test ca", ca_key, True)
    leaf = cert(name, leaf_key, "test ca", ca_key, False)
    (tmp / "leaf.pem").write_bytes(
        leaf.public_bytes(serialization.Encoding.PEM)
        + leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tmp / "leaf.pem")
    client_ctx = ssl.create_default_context(
        cadata=ca.public_bytes(serialization.Encoding.PEM).decode()
    )
    return server_ctx, client_ctx


@pytest.mark.parametrize(("cert_name", "ok"), [("lab.test", True), ("other.test", False)])
def test_tls_verifies_the_url_host_name_not_the_pinned_address(
    tmp_path: Path, cert_name: str, ok: bool
) -> None:
    server_ctx, client_ctx = _tls_pair(tmp_path, cert_name)
    with (
        serve(tls=server_ctx) as server,
        guarded_client(policy(True, dns("127.0.0.1")), verify=client_ctx) as client,
    ):
        url = f"https://lab.test:{server.port}/v1/models"
        if ok:
            assert client.get(url).json()["data"] == [{"id": "frontier-x"}]
        else:
            with pytest.raises(httpx.ConnectError, match="certificate"):
                client.get(url)
            assert server.requests == []


def test_a_redirect_to_another_host_is_never_followed() -> None:
    with serve() as elsewhere, serve(redirect_to=f"http://{elsewhere.base}/steal") as lab:
        lab_url = f"http://{lab.base}/v1/redirect"
        with pytest.raises(AccessVerificationFailed) as info:
            access.check_models_endpoint(lab_url, API_KEY, policy(True, dns()))
        assert info.value.code == "endpoint_error" and API_KEY not in info.value.detail
        with guarded_client(policy(True, dns())) as client:
            # a caller asking for redirects per request does not get them either
            response = client.get(f"{lab_url}/models", follow_redirects=True)
        assert response.status_code == 302
        assert elsewhere.connections == [] and elsewhere.requests == []


def test_a_redirect_is_not_followed_by_the_async_client_either() -> None:
    async def fetch(url: str) -> int:
        async with guarded_async_client(policy(True, dns())) as client:
            return (await client.get(url, follow_redirects=True)).status_code

    with serve() as elsewhere:
        with serve(redirect_to=f"http://{elsewhere.base}/steal") as lab:
            assert asyncio.run(fetch(f"http://{lab.base}/v1/redirect/models")) == 302
        assert elsewhere.connections == []


@pytest.fixture
def proxy_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    """Every proxy variable points at a local capture server."""
    with serve() as capture:
        for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
            monkeypatch.setenv(var, f"http://{capture.base}")
        for var in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(var, raising=False)
        yield capture


def test_proxies_from_the_environment_are_ignored(proxy_env: Recorder) -> None:
    with serve() as lab:
        url = f"http://{lab.base}/v1"
        assert access.check_models_endpoint(url, API_KEY, policy(True, dns())).models
        assert len(lab.requests) == 1

        async def generate() -> int:
            async with guarded_async_client(policy(True, dns())) as client:
                return (await client.get(f"{url}/models")).status_code

        assert asyncio.run(generate()) == 200
        assert len(lab.requests) == 2
    assert proxy_env.connections == [] and proxy_env.requests == []


def test_https_is_required_at_connect_time_too() -> None:
    with serve() as lab, guarded_client(policy(False, dns("127.0.0.1"))) as client:
        with pytest.raises(OutboundRefused) as info:
            client.get(f"http://lab.example:{lab.port}/v1/models")
        assert info.value.extra["reason"] == "https_required" and lab.connections == []


def test_a_host_that_stops_resolving_is_unreachable_not_a_crash() -> None:
    def gone(host: str, port: int) -> list[tuple[Any, ...]]:
        raise OSError("Name or service not known")

    with pytest.raises(AccessVerificationFailed) as info:
        access.check_models_endpoint("https://lab.example/v1", API_KEY, policy(False, gone))
    assert info.value.code == "endpoint_unreachable" and API_KEY not in info.value.detail


@pytest.mark.parametrize(
    "override",
    [
        {"transport": httpx.HTTPTransport()},
        {"proxy": "http://127.0.0.1:9"},
        {"mounts": {}},
        {"trust_env": True},
        {"follow_redirects": True},
    ],
)
def test_the_clients_cannot_be_configured_around_the_policy(override: dict[str, Any]) -> None:
    with pytest.raises(TypeError, match="outbound policy"):
        guarded_client(policy(True, dns()), **override)
    with pytest.raises(TypeError, match="outbound policy"):
        guarded_async_client(policy(True, dns()), **override)


# --- a real Inspect model through the async client ----------------------------------------


def _inspect_generate(base_url: str, client_policy: OutboundPolicy) -> str:
    from inspect_ai.model import GenerateConfig, get_model

    async def run() -> str:
        model = get_model(
            "openai-api/lab/some-model",
            base_url=base_url,
            api_key=API_KEY,
            http_client=guarded_async_client(client_policy),
            memoize=False,
            config=GenerateConfig(max_retries=1, timeout=10),
        )
        async with model:
            return (await model.generate("ping")).completion

    return asyncio.run(run())


def test_an_inspect_model_answers_through_the_guarded_client() -> None:
    with serve() as lab:
        completion = _inspect_generate(
            f"http://lab.internal.test:{lab.port}/v1", policy(True, dns("127.0.0.1"))
        )
        assert completion == "pong"
        [request] = lab.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Host"] == f"lab.internal.test:{lab.port}"


@pytest.mark.parametrize("attack", ["rebinding", "private_not_allowed"])
def test_an_inspect_model_is_refused_before_the_server_sees_a_request(attack: str) -> None:
    with serve() as lab:
        base_url = f"https://lab.example:{lab.port}/v1"
        if attack == "rebinding":
            strict = policy(False, Rebinder())
            check_url(base_url, strict)  # what the run's creation checks: a public answer
        else:
            strict = policy(False, dns("127.0.0.1"))
        with pytest.raises(OutboundRefused) as info:
            _inspect_generate(base_url, strict)
        assert lab.connections == [] and lab.requests == []
    assert "127.0.0.1" in info.value.detail and API_KEY not in info.value.detail


# --- through the API, in a deployment that does not allow private endpoints ---------------


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Production's rule (no private endpoints) on the test databases."""
    return settings.model_copy(update={"allow_private_endpoints": False})


def _parties(world: World) -> tuple[str, str, Any, Any]:
    lab, ev = world.org(OrgKind.lab), world.org(OrgKind.evaluator)
    return (
        lab,
        ev,
        world.member(lab, OrgKind.lab, Role.member),
        world.member(ev, OrgKind.evaluator, Role.member),
    )


@pytest.mark.parametrize("endpoint", ["https://100.100.100.200/v1", "https://[2002:7f00:1::1]/v1"])
def test_the_api_refuses_a_metadata_or_tunnelled_loopback_endpoint_and_stores_nothing(
    world: World, client: TestClient, services: Services, endpoint: str
) -> None:
    lab, ev, lab_m, _ = _parties(world)
    r = client.post(
        "/api/v1/submissions",
        headers=lab_m.headers,
        json={
            "agreement_id": world.agreement(lab),
            "model_name": "frontier-x",
            "model_version": "1",
            "planned_release_at": "2099-01-01T00:00:00Z",
            "endpoint_url": endpoint,
            "api_key": API_KEY,
            "evaluator_org_id": ev,
        },
    )
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "endpoint_refused" and r.json()["reason"] == "address"
    assert API_KEY not in r.text
    with services.db.transaction() as s:
        assert s.query(Submission).count() == 0


def test_verify_access_on_a_forged_endpoint_row_connects_to_nothing(
    world: World, client: TestClient, services: Services
) -> None:
    """A row that points at loopback (written before the rule, or forged) is refused at connect
    time: the check no longer lives only where endpoints are created."""
    lab, ev, lab_m, ev_m = _parties(world)
    sid = world.submission(
        world.agreement(lab), lab_m, ev, endpoint_url=f"https://{PUBLIC}/v1", api_key=API_KEY
    )
    with serve() as server:
        with services.db.transaction() as s:
            row = s.get(Submission, sid)
            assert row is not None
            row.endpoint_url = f"https://127.0.0.1:{server.port}/v1"
        r = client.post(f"/api/v1/submissions/{sid}/verify-access", headers=ev_m.headers)
        assert server.connections == [] and server.requests == []
    assert r.status_code == 422 and r.json()["code"] == "endpoint_refused", r.text
    assert API_KEY not in r.text
    assert client.get(f"/api/v1/submissions/{sid}", headers=ev_m.headers).json()["state"] == (
        "submitted"
    )
