"""The SSRF guard: which URLs may be fetched and which addresses may be connected to.

A feed is third-party input, and a redirect from it must never reach the worker's metadata
server or the user's private network. ``parse_target`` refuses anything that is not a plain
http(s) URL before any network activity; ``AddressGuard.vet`` resolves the host, checks every
address, and returns the one address the transport must connect to. The transport opens its
socket to exactly that address (the host name still goes into the Host header, SNI and the
certificate check), so DNS rebinding between the check and the connect is impossible. Cloud
metadata endpoints stay blocked even with ``allow_private_networks``.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from transforms.core.urls import idna_host
from transforms.fetch.http.errors import BAD_URL, BLOCKED_ADDRESS, DNS_ERROR, FetchError

Resolver = Callable[[str, int], list[str]]

# Always blocked, whatever allow_private_networks says: these answer with cloud credentials.
METADATA_HOSTNAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.internal",
        "metadata.platformequinix.com",
    }
)
METADATA_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in ("169.254.169.254/32", "169.254.170.2/32", "fd00:ec2::254/128", "100.100.100.200/32")
)


@dataclass(frozen=True)
class Target:
    """A validated hop: what to connect to and what to say in the request line."""

    url: str
    scheme: str
    host: str  # IDNA 2008 (UTS 46) encoded, lower case, no brackets
    port: int
    path: str  # path + query, never empty

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.authority}"

    @property
    def authority(self) -> str:
        """``host[:port]`` as it goes into the Host header (default port left out)."""
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host + ("" if self.port == default else f":{self.port}")


def parse_target(url: str) -> Target:
    """Validate a URL for fetching; anything odd is a ``bad_url`` before any network activity."""
    if len(url) > 4096 or any(ch in url for ch in "\r\n\t\x00 "):
        raise FetchError(BAD_URL, url, "URL too long or contains whitespace/control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise FetchError(BAD_URL, url, f"malformed URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise FetchError(BAD_URL, url, f"unsupported scheme {scheme or 'none'!r}")
    if parts.username is not None or parts.password is not None:
        raise FetchError(BAD_URL, url, "credentials in URLs are not supported")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise FetchError(BAD_URL, url, "no host")
    if not is_ip(host):
        try:
            host = idna_host(host)
        except UnicodeError:
            raise FetchError(BAD_URL, url, "host name is not valid IDNA") from None
    port = port or (443 if scheme == "https" else 80)
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    clean = urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
    return Target(url=clean, scheme=scheme, host=host, port=port, path=path)


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def address_block_reason(
    address: str,
    *,
    allow_private_networks: bool = False,
    allowed_networks: Sequence[str] = (),
) -> str | None:
    """Why connecting to ``address`` is refused, or None when it is allowed.

    Cloud metadata addresses are refused in every mode. IPv4-mapped, 6to4 and Teredo IPv6
    addresses are judged by the IPv4 address they embed, so they cannot smuggle a private one.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address!r} is not an IP address"
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        for embedded in (ip.ipv4_mapped, ip.sixtofour, ip.teredo[1] if ip.teredo else None):
            if embedded is not None:
                candidates.append(embedded)
    for candidate in candidates:
        if any(candidate in net for net in METADATA_NETWORKS if net.version == candidate.version):
            return f"{candidate} is a cloud metadata address"
    if allow_private_networks:
        return None
    for net in allowed_networks:
        network = ipaddress.ip_network(net, strict=False)
        if network.version == ip.version and ip in network:
            return None
    for candidate in candidates:
        for label, flag in (
            ("unspecified", candidate.is_unspecified),
            ("loopback", candidate.is_loopback),
            ("link-local", candidate.is_link_local),
            ("multicast", candidate.is_multicast),
            ("private", candidate.is_private),
            ("reserved", candidate.is_reserved),
            ("non-global", not candidate.is_global),
        ):
            if flag:
                return f"{candidate} is a {label} address"
    return None


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        if str(sockaddr[0]) not in seen:
            seen.append(str(sockaddr[0]))
    return seen


class AddressGuard:
    """Resolves and vets hosts; one per client. Resolution runs on a small pool so a resolver
    that hangs cannot hold a fetch past its connect timeout."""

    def __init__(
        self,
        *,
        allow_private_networks: bool,
        allowed_networks: Sequence[str],
        connect_timeout: float,
        resolver: Resolver | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.allow_private_networks = allow_private_networks
        self.allowed_networks = tuple(allowed_networks)
        self.connect_timeout = connect_timeout
        self._resolver = resolver or system_resolver
        self._clock = clock
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="wirestream-dns")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def vet(self, target: Target, deadline: float) -> str:
        """Resolve and check every address of the host; return the one to connect to."""
        if target.host in METADATA_HOSTNAMES or target.host.endswith(".internal"):
            raise FetchError(BLOCKED_ADDRESS, target.url, f"metadata host {target.host!r}")
        addresses = self._resolve(target, deadline)
        for address in addresses:
            why = address_block_reason(
                address,
                allow_private_networks=self.allow_private_networks,
                allowed_networks=self.allowed_networks,
            )
            if why is not None:
                raise FetchError(BLOCKED_ADDRESS, target.url, why)
        return addresses[0]

    def _resolve(self, target: Target, deadline: float) -> list[str]:
        if is_ip(target.host):
            return [target.host]
        budget = max(0.01, min(self.connect_timeout, deadline - self._clock()))
        future = self._pool.submit(self._resolver, target.host, target.port)
        try:
            addresses = list(future.result(timeout=budget))
        except FutureTimeout:
            raise FetchError(
                DNS_ERROR, target.url, "name resolution timed out", retryable=True
            ) from None
        except socket.gaierror as exc:
            transient = exc.errno == socket.EAI_AGAIN
            raise FetchError(
                DNS_ERROR, target.url, f"cannot resolve: {exc.strerror}", retryable=transient
            ) from None
        except (OSError, UnicodeError) as exc:
            raise FetchError(DNS_ERROR, target.url, f"cannot resolve: {exc}") from None
        if not addresses:
            raise FetchError(DNS_ERROR, target.url, "no addresses")
        return addresses
