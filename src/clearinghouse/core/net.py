"""The outbound-call policy: every HTTP request the product sends to the outside goes through here.

Two checks, one rule (docs/outbound.md):

* `check_url(url, policy)` when a URL is stored: http(s) with a host, no credentials in it, https
  unless private endpoints are allowed, and every address the host resolves to passes
  `address_refusal`.
* `guarded_client(policy)` / `guarded_async_client(policy)` when a call is made: an httpx
  (sync) or httpx2 (async, for the openai SDK that Inspect uses) client whose network backend
  resolves the host itself, checks EVERY address, refuses before any byte is sent if one fails,
  and connects to a checked address (pinning: no second lookup that a rebinding DNS server could
  answer differently). TLS still verifies the URL's hostname. The clients ignore the worker's
  environment (no proxies, netrc or CA overrides) and never follow redirects.

The address rule: only `is_global` addresses that are not multicast, unspecified or broadcast,
plus a few ranges that Python's `is_global` misses on the versions we run (`_NOT_GLOBAL`). IPv6
addresses that embed an IPv4 address (mapped, 6to4, Teredo, NAT64, IPv4-compatible) are judged
on the embedded address too. When the deployment allows private endpoints (development, tests),
loopback and private addresses pass; multicast, unspecified and broadcast never do.

Errors name the host and the address, never a header: the API key cannot leak through them.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
import httpcore
import httpcore2
import httpx
import httpx2

from clearinghouse.core.config import Settings
from clearinghouse.core.errors import OutboundRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: getaddrinfo-shaped: (host, port) -> [(family, type, proto, canonname, sockaddr), ...]
Resolver = Callable[[str, int], Sequence[tuple[Any, ...]]]


def system_resolver(host: str, port: int) -> Sequence[tuple[Any, ...]]:
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


@dataclass(frozen=True)
class OutboundPolicy:
    """Where outbound calls may go, how names are resolved, and how long a call may take."""

    allow_private: bool = False
    resolver: Resolver = system_resolver
    timeout: float = 30.0
    connect_timeout: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> OutboundPolicy:
        fields: dict[str, Any] = {
            "allow_private": settings.private_endpoints_allowed,
            "timeout": settings.endpoint_timeout_seconds,
            "connect_timeout": settings.endpoint_timeout_seconds,
        }
        return cls(**{**fields, **overrides})

    def httpx_timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.timeout, connect=self.connect_timeout)

    def httpx2_timeout(self) -> httpx2.Timeout:
        return httpx2.Timeout(self.timeout, connect=self.connect_timeout)


# --- the address rule ---------------------------------------------------------------------

# Not globally reachable (IANA special-purpose registries) although `is_global` says so on
# Python 3.11: the IETF protocol block (192.0.0.192 is a cloud metadata address), local-use
# NAT64, deprecated site-local, the 2024 documentation prefix, SRv6 SIDs.
_NOT_GLOBAL = tuple(
    ipaddress.ip_network(n)
    for n in ("192.0.0.0/24", "64:ff9b:1::/48", "fec0::/10", "3fff::/20", "5f00::/16")
)
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_BROADCAST = ipaddress.IPv4Address("255.255.255.255")


def embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (mapped, 6to4, Teredo, NAT64, compatible)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    value = int(address)
    if address in _NAT64:
        found.append(ipaddress.IPv4Address(value & 0xFFFFFFFF))
    if value >> 32 == 0 and value > 1:  # IPv4-compatible ::a.b.c.d (deprecated, not :: or ::1)
        found.append(ipaddress.IPv4Address(value))
    return found


def _own_refusal(address: IPAddress, allow_private: bool) -> str | None:
    if address.is_multicast:
        return "multicast"
    if address.is_unspecified:
        return "unspecified"
    if address == _BROADCAST:
        return "broadcast"
    if allow_private:
        return None
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local (where cloud metadata services live)"
    if address in _SHARED:
        return "shared address space 100.64.0.0/10 (carrier NAT, cloud metadata)"
    if address.is_private:
        return "private or special-purpose"
    if not address.is_global or any(address in net for net in _NOT_GLOBAL):
        return "not globally routable"
    return None


def address_refusal(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why `address` may not be contacted, or None when it may."""
    reason = _own_refusal(address, allow_private)
    if reason is not None:
        return reason
    for inner in embedded_ipv4(address):
        reason = _own_refusal(inner, allow_private)
        if reason is not None:
            return f"it embeds {inner}, {reason}"
    return None


class _Unresolvable(OSError):
    """The host has no usable address (the connect path reports it as a connection error)."""


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def checked_addresses(host: str, port: int, policy: OutboundPolicy) -> list[IPAddress]:
    """Resolve `host` with the policy's resolver and check every answer.

    Raises OutboundRefused if any address fails (one bad answer is enough: a rebinding server
    would otherwise race a good one against it), `_Unresolvable` if there is none.
    """
    literal = _ip_literal(host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            infos = policy.resolver(host, port)
        except (OSError, UnicodeError) as exc:
            raise _Unresolvable(f"host {host!r} does not resolve") from exc
        addresses = []
        for info in infos:
            try:
                address = ipaddress.ip_address(str(info[4][0]))
            except (ValueError, IndexError, TypeError):
                raise OutboundRefused(
                    f"host {host!r} resolved to something that is not an IP address",
                    reason="address",
                ) from None
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise _Unresolvable(f"host {host!r} has no address")
    for address in addresses:
        reason = address_refusal(address, allow_private=policy.allow_private)
        if reason is not None:
            raise OutboundRefused(
                f"host {host!r} resolves to {address}: {reason}; outbound calls go only to "
                "public addresses",
                reason="address",
            )
    return addresses


# --- creation time --------------------------------------------------------------------------


def check_url(url: str, policy: OutboundPolicy, *, name: str = "url") -> httpx.URL:
    """The static checks for a URL that will be stored and called later. Returns it parsed."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise OutboundRefused(f"{name} is not a valid URL", reason="scheme") from None
    if parsed.scheme not in {"http", "https"} or not parsed.raw_host:
        raise OutboundRefused(f"{name} must be an http(s) URL with a host", reason="scheme")
    if parsed.userinfo:
        raise OutboundRefused(
            f"{name} must not carry credentials; send the key as api_key", reason="credentials"
        )
    if parsed.scheme != "https" and not policy.allow_private:
        raise OutboundRefused(f"{name} must use https", reason="https_required")
    host = parsed.raw_host.decode("ascii")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        checked_addresses(host, port, policy)
    except _Unresolvable:
        raise OutboundRefused(
            f"{name} host {parsed.host!r} does not resolve", reason="unresolvable"
        ) from None
    return parsed


# --- connect time ---------------------------------------------------------------------------


def _connect_targets(host: str, port: int, policy: OutboundPolicy) -> list[IPAddress]:
    try:
        return checked_addresses(host, port, policy)
    except _Unresolvable as exc:
        raise httpcore.ConnectError(str(exc)) from None


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(deadline - time.monotonic(), 0.0)


class _GuardedBackend(httpcore.SyncBackend):
    """Resolves, checks every address, then connects to a checked one (pinned)."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self._policy = policy

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        deadline = None if timeout is None else time.monotonic() + timeout
        last: Exception = httpcore.ConnectError(f"no address for {host!r}")
        for address in _connect_targets(host, port, self._policy):
            try:
                return super().connect_tcp(
                    str(address), port, _remaining(deadline), local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        raise last

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise OutboundRefused("outbound calls do not use unix sockets", reason="address")


class _GuardedAsyncBackend(httpcore2.AnyIOBackend):
    """The async twin of `_GuardedBackend` (httpcore2, for httpx2 and the openai SDK)."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self._policy = policy

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            targets = await anyio.to_thread.run_sync(
                checked_addresses, host, port, self._policy, abandon_on_cancel=True
            )
        except _Unresolvable as exc:
            raise httpcore2.ConnectError(str(exc)) from None
        last: Exception = httpcore2.ConnectError(f"no address for {host!r}")
        for address in targets:
            try:
                return await super().connect_tcp(
                    str(address), port, _remaining(deadline), local_address, socket_options
                )
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                last = exc
        raise last

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore2.AsyncNetworkStream:
        raise OutboundRefused("outbound calls do not use unix sockets", reason="address")


def _check_scheme(scheme: str, policy: OutboundPolicy) -> None:
    if scheme != "https" and not policy.allow_private:
        raise OutboundRefused("outbound calls must use https", reason="https_required")


class _GuardedTransport(httpx.HTTPTransport):
    def __init__(self, policy: OutboundPolicy, ssl_context: ssl.SSLContext, limits: httpx.Limits):
        super().__init__(verify=ssl_context, trust_env=False, limits=limits)
        self._policy = policy
        # httpx does not expose httpcore's `network_backend`: the transport's pool (its one
        # piece of state, `_pool`) is replaced by one built with the guarded backend. This is
        # the only place a private attribute is used (the async twin below does the same).
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedBackend(policy),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        _check_scheme(request.url.scheme, self._policy)
        return super().handle_request(request)


class _GuardedAsyncTransport(httpx2.AsyncHTTPTransport):
    def __init__(self, policy: OutboundPolicy, ssl_context: ssl.SSLContext, limits: httpx2.Limits):
        super().__init__(verify=ssl_context, trust_env=False, limits=limits)
        self._policy = policy
        self._pool = httpcore2.AsyncConnectionPool(  # see _GuardedTransport
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedAsyncBackend(policy),
        )

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        _check_scheme(request.url.scheme, self._policy)
        return await super().handle_async_request(request)


class _GuardedClient(httpx.Client):
    """Never follows a redirect, whatever a caller asks per request (one could carry the key)."""

    def send(
        self,
        request: httpx.Request,
        *,
        stream: bool = False,
        auth: Any = httpx.USE_CLIENT_DEFAULT,
        follow_redirects: Any = httpx.USE_CLIENT_DEFAULT,
    ) -> httpx.Response:
        return super().send(request, stream=stream, auth=auth, follow_redirects=False)


class _GuardedAsyncClient(httpx2.AsyncClient):
    """See `_GuardedClient`."""

    async def send(
        self,
        request: httpx2.Request,
        *,
        stream: bool = False,
        auth: Any = httpx2.USE_CLIENT_DEFAULT,
        follow_redirects: Any = httpx2.USE_CLIENT_DEFAULT,
    ) -> httpx2.Response:
        return await super().send(request, stream=stream, auth=auth, follow_redirects=False)


# What a caller may not choose: these would bypass the guarded transport or the policy.
_FIXED = frozenset({"transport", "mounts", "proxy", "proxies", "trust_env", "follow_redirects"})


def _refuse_overrides(kw: dict[str, Any]) -> None:
    fixed = sorted(_FIXED & kw.keys())
    if fixed:
        raise TypeError(f"the outbound policy fixes {', '.join(fixed)}; do not pass them")


def guarded_client(policy: OutboundPolicy, **kw: Any) -> httpx.Client:
    """An httpx.Client bound to the policy. `verify` (an SSLContext) and `limits` may be given."""
    _refuse_overrides(kw)
    ssl_context = httpx.create_ssl_context(verify=kw.pop("verify", True), trust_env=False)
    limits = kw.pop("limits", httpx.Limits(max_connections=100, max_keepalive_connections=20))
    kw.setdefault("timeout", policy.httpx_timeout())
    return _GuardedClient(
        transport=_GuardedTransport(policy, ssl_context, limits),
        trust_env=False,
        follow_redirects=False,
        **kw,
    )


def guarded_async_client(policy: OutboundPolicy, **kw: Any) -> httpx2.AsyncClient:
    """An httpx2.AsyncClient bound to the policy, for `AsyncOpenAI(http_client=...)` and so
    Inspect's openai-api provider (`get_model(..., http_client=guarded_async_client(policy))`).
    """
    _refuse_overrides(kw)
    ssl_context = httpx2.create_ssl_context(verify=kw.pop("verify", True), trust_env=False)
    limits = kw.pop("limits", httpx2.Limits(max_connections=1000, max_keepalive_connections=100))
    kw.setdefault("timeout", policy.httpx2_timeout())
    return _GuardedAsyncClient(
        transport=_GuardedAsyncTransport(policy, ssl_context, limits),
        trust_env=False,
        follow_redirects=False,
        **kw,
    )
