"""Webhook targets: which URLs and addresses Invoicer may send to (server-side request forgery).

A customer names a URL and our workers POST to it from inside our network, so a URL that
reaches the loopback interface, a private network or a cloud's metadata service would turn
webhooks into a way to read or poke at our own infrastructure. The rules, applied twice:

- at registration (`normalise_url` for the shape, `check_target` for the addresses): an
  early, friendly refusal;
- at delivery, after resolving the host again (`resolve_target`): the check that counts, since
  DNS may answer differently by then (rebinding). The worker then connects to the very address
  it checked (app/clients/webhooks.py), never resolving the name a second time.

Refused always: unspecified, multicast, link-local (which holds 169.254.169.254), reserved and
other non-global addresses, cloud metadata addresses and names. Refused unless
WEBHOOK_ALLOW_PRIVATE_TARGETS: loopback, private (RFC 1918), unique-local (fc00::/7) and
shared (CGNAT, 100.64.0.0/10) addresses, and `localhost` names.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit, urlunsplit

import idna

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_ADDRESSES = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack, ...
        ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
        ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    }
)
METADATA_HOSTNAMES = frozenset({"metadata.google.internal", "metadata.goog", "metadata"})
# What WEBHOOK_ALLOW_PRIVATE_TARGETS admits besides loopback: RFC 1918, CGNAT (RFC 6598) and
# unique-local IPv6 networks, where a developer's or a test's receiver may listen.
_PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
SCHEMES = ("https", "http")


class TargetRefusedError(ValueError):
    """The URL, or an address its host resolves to, is not one we send webhooks to."""


@dataclass(frozen=True, slots=True)
class TargetPolicy:
    allow_private: bool
    require_https: bool


def normalise_url(raw: str) -> str:
    """The URL as stored: scheme and host in lower case, an IDN host in its ASCII (punycode)
    form, no default port, no fragment. Refuses what is not an absolute http(s) URL with a
    host, and userinfo (`https://user:pass@host`: credentials in a URL end up in logs)."""
    if raw != raw.strip() or any(unicodedata.category(char)[0] in "CZ" and char != " " for char in raw):
        raise TargetRefusedError("must not contain whitespace or control characters")
    if " " in raw:
        raise TargetRefusedError("must not contain spaces")
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as error:
        raise TargetRefusedError(f"is not a valid URL ({error})") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise TargetRefusedError("must be an https:// (or, where allowed, http://) URL")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise TargetRefusedError("must not carry a user name or password")
    if parts.fragment or raw.endswith("#"):
        raise TargetRefusedError("must not have a fragment (#...)")
    host = _ascii_host(parts.hostname or "")
    default_port = 443 if scheme == "https" else 80
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != default_port:
        if port == 0:
            raise TargetRefusedError("must not name port 0")
        netloc += f":{port}"
    return urlunsplit(SplitResult(scheme, netloc, parts.path or "/", parts.query, ""))


def _ascii_host(host: str) -> str:
    if not host:
        raise TargetRefusedError("must name a host")
    literal = _literal_address(host)
    if literal is not None:
        return literal.compressed
    host = host.rstrip(".")
    try:
        # UTS #46 mapping (case folding, width) then IDNA 2008: a homograph is accepted, but
        # stored and shown as the punycode it really is (xn--...).
        ascii_host = idna.encode(host, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError) as error:
        raise TargetRefusedError(f"has an invalid host name ({error})") from None
    if _literal_address(ascii_host) is not None or ascii_host.replace(".", "").isdigit():
        # `0x7f.1`, `2130706433`, `127.1`: numeric forms some resolvers read as addresses.
        raise TargetRefusedError("has a host that looks like a numeric address")
    return ascii_host.lower()


def _literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _embedded_ipv4(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one carries (IPv4-mapped, NAT64, 6to4), which is what it reaches."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if address.sixtofour is not None:
            return address.sixtofour
    return address


def refusal_for_address(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why `address` is not a webhook target, or None when it is one."""
    address = _embedded_ipv4(address)
    always = (
        (address in METADATA_ADDRESSES, "a cloud metadata address"),
        (address.is_unspecified, "an unspecified address"),
        (address.is_multicast, "a multicast address"),
        (address.is_link_local, "a link-local address"),
    )
    for refused, reason in always:
        if refused:
            return reason
    if address.is_loopback or any(address in network for network in _PRIVATE_NETWORKS):
        return None if allow_private else "a loopback or private address"
    return None if address.is_global else "a reserved or non-global address"


def _refusal_for_hostname(host: str, *, allow_private: bool) -> str | None:
    if host in METADATA_HOSTNAMES or host.endswith(".metadata.google.internal"):
        return "a cloud metadata host"
    if (host == "localhost" or host.endswith(".localhost")) and not allow_private:
        return "a loopback host"
    return None


Resolver = Callable[[str, int], Awaitable[Sequence[IPAddress]]]


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the system resolver gives for `host` (TCP), in its order."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    found: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


@dataclass(frozen=True, slots=True)
class Target:
    """Where to connect for a URL: the address checked, and the host and port it stands for."""

    url: str
    scheme: str
    host: str
    port: int
    address: IPAddress


def _parts(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme
    host = parts.hostname or ""
    return scheme, host, parts.port or (443 if scheme == "https" else 80)


def check_scheme(url: str, policy: TargetPolicy) -> None:
    if policy.require_https and urlsplit(url).scheme != "https":
        raise TargetRefusedError("must be an https:// URL")


async def resolve_target(
    url: str, policy: TargetPolicy, *, timeout_seconds: float, resolver: Resolver = resolve
) -> Target:
    """The address to connect to for a (normalised) URL, checked: every address the host
    resolves to must be allowed, or the URL is refused. Raises `TargetRefusedError`, or
    `OSError`/`TimeoutError` when the host does not resolve."""
    check_scheme(url, policy)
    scheme, host, port = _parts(url)
    literal = _literal_address(host)
    if literal is not None:
        addresses: Sequence[IPAddress] = [literal]
    else:
        reason = _refusal_for_hostname(host, allow_private=policy.allow_private)
        if reason is not None:
            raise TargetRefusedError(f"is {reason}")
        async with asyncio.timeout(timeout_seconds):
            addresses = await resolver(host, port)
        if not addresses:
            raise OSError(f"{host} resolves to no address")
    for address in addresses:
        reason = refusal_for_address(address, allow_private=policy.allow_private)
        if reason is not None:
            shown = "is" if literal is not None else f"resolves to {address.compressed},"
            raise TargetRefusedError(f"{shown} {reason}")
    return Target(url=url, scheme=scheme, host=host, port=port, address=addresses[0])


async def check_target(
    url: str, policy: TargetPolicy, *, timeout_seconds: float, resolver: Resolver = resolve
) -> None:
    """At registration: refuse a URL whose host is, or resolves to, a refused address. A host
    that does not resolve (yet) is accepted; every delivery checks again."""
    try:
        await resolve_target(url, policy, timeout_seconds=timeout_seconds, resolver=resolver)
    except (OSError, TimeoutError):
        return
