"""Where a webhook may point (pure): https, a public address, a standard or allowed port, no credentials.

Server-side request forgery is the risk: a partner must not make the registry call into its own
network. A URL is checked when the subscription is made (its text, and a literal address) and again
before every delivery, when its host is resolved afresh (DNS may have changed since), so a name that
now points at a private address is refused then. Numeric hosts are read the way the C library and
browsers read them (``2130706433``, ``0177.1``, ``0x7f.0.0.1`` are all 127.0.0.1), and addresses
embedded in IPv6 (IPv4-mapped, 6to4, Teredo, NAT64) are judged by the IPv4 address they carry.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address
from urllib.parse import urlsplit

IPAddress = IPv4Address | IPv6Address
MAX_URL_LENGTH = 2000
DEFAULT_PORTS = {"https": 443, "http": 80}
# Names that never leave the machine or the site, whatever DNS says.
LOCAL_NAMES = ("localhost", "localdomain", "local", "internal", "intranet", "lan", "home.arpa")
LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
NUMERIC_PART = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class TargetRefused(ValueError):
    """A webhook URL or address the registry will not call, and why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class TargetPolicy:
    """What the deployment allows: https only (outside development), no private addresses, these ports."""

    require_https: bool = True
    allow_private: bool = False
    allowed_ports: frozenset[int] = field(default_factory=frozenset)

    @classmethod
    def of(cls, *, environment: str, allow_private: bool, allowed_ports: Sequence[int]) -> TargetPolicy:
        """The policy of a deployment; private targets (a local test partner) also allow plain http."""
        return cls(
            environment != "development" and not allow_private, allow_private, frozenset(allowed_ports)
        )


@dataclass(frozen=True)
class Target:
    """A webhook URL that passed the checks of its text: scheme, host (normalised), port, literal address."""

    url: str
    scheme: str
    host: str
    port: int
    address: IPAddress | None


def numeric_ipv4(host: str) -> IPv4Address | None:
    """The IPv4 address a numeric host stands for (inet_aton's forms: 1 to 4 parts, decimal, octal, hex).

    None when the host is a name; TargetRefused when it looks numeric but is no address (which a
    resolver might still read as one).
    """
    parts = host.split(".")
    if not NUMERIC_PART.match(parts[-1]):
        return None
    if len(parts) > 4 or not all(NUMERIC_PART.match(part) for part in parts):
        raise TargetRefused(f"{host!r} looks like a numeric address but is not one")
    try:
        values = [_number(part) for part in parts]
    except ValueError as exc:
        raise TargetRefused(f"{host!r} looks like a numeric address but is not one") from exc
    *leading, last = values
    if any(value > 255 for value in leading) or last >= 256 ** (5 - len(values)):
        raise TargetRefused(f"{host!r} is out of the IPv4 range")
    number = last
    for index, value in enumerate(leading):
        number += value << (8 * (3 - index))
    return IPv4Address(number)


def _number(part: str) -> int:
    if part.startswith("0x"):
        return int(part[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):
        return int(part, 8)
    return int(part)


def _embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in NAT64 or int(address) >> 32 == 0:  # NAT64, and the deprecated IPv4-compatible ::a.b.c.d
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_problem(address: IPAddress) -> str | None:
    """Why an address is no place to deliver to (loopback, private, link-local...), or None for a public one."""
    embedded = _embedded_ipv4(address) if isinstance(address, IPv6Address) else None
    if embedded is not None and (problem := address_problem(embedded)) is not None:
        return f"{problem} ({embedded} inside {address})"
    checks = (
        ("unspecified", address.is_unspecified), ("loopback", address.is_loopback),
        ("link-local", address.is_link_local), ("multicast", address.is_multicast),
        ("private", address.is_private), ("reserved", address.is_reserved),
        ("site-local", isinstance(address, IPv6Address) and address.is_site_local),
    )  # fmt: skip
    for name, applies in checks:
        if applies:
            return f"a {name} address"
    return None if address.is_global else "not a public address"


def _host(raw: str) -> tuple[str, IPAddress | None]:
    """The host normalised (lower case, no trailing dot, IDNA), and its address when it is a literal one."""
    if ":" in raw:  # urlsplit took the brackets off an IPv6 literal
        if "%" in raw:
            raise TargetRefused("an IPv6 zone is not allowed")
        try:
            return raw, IPv6Address(raw)
        except ValueError as exc:
            raise TargetRefused(f"{raw!r} is not an IPv6 address") from exc
    host = raw.rstrip(".").lower()
    if not host or raw.endswith(".."):
        raise TargetRefused("the URL has no host")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise TargetRefused(f"{raw!r} is not a valid host name") from exc
    if (address := numeric_ipv4(host)) is not None:
        return str(address), address
    labels = host.split(".")
    if len(host) > 253 or not all(LABEL.match(label) for label in labels):
        raise TargetRefused(f"{raw!r} is not a valid host name")
    return host, None


def parse_target(url: str, policy: TargetPolicy) -> Target:
    """Check a webhook URL's text under ``policy``; TargetRefused says why it is refused."""
    if len(url) > MAX_URL_LENGTH:
        raise TargetRefused(f"longer than {MAX_URL_LENGTH} characters")
    if any(ord(character) < 33 or ord(character) == 127 for character in url):
        raise TargetRefused("spaces and control characters are not allowed")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"not a valid URL: {exc}") from exc
    scheme = parts.scheme.lower()
    allowed_schemes = ("https",) if policy.require_https else ("https", "http")
    if scheme not in allowed_schemes:
        raise TargetRefused(f"the scheme must be {' or '.join(allowed_schemes)}")
    if "@" in parts.netloc:
        raise TargetRefused(
            "credentials in the URL are not allowed (the signature authenticates the registry)"
        )
    if not parts.hostname:
        raise TargetRefused("the URL has no host")
    host, address = _host(parts.hostname)
    port = DEFAULT_PORTS[scheme] if port is None else port
    if port != DEFAULT_PORTS[scheme] and port not in policy.allowed_ports:
        raise TargetRefused(
            f"port {port} is not allowed (only {DEFAULT_PORTS[scheme]} or the configured ports)"
        )
    if not policy.allow_private:
        if address is None and (
            ("." not in host) or any(host == n or host.endswith(f".{n}") for n in LOCAL_NAMES)
        ):
            raise TargetRefused(f"{host!r} is a local name")
        if address is not None and (problem := address_problem(address)) is not None:
            raise TargetRefused(f"{address} is {problem}")
    return Target(url, scheme, host, port, address)


Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """The addresses the system's resolver gives for ``host`` (what the HTTP client will connect to)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


async def delivery_refusal(url: str, policy: TargetPolicy, resolve: Resolver = system_resolver) -> str | None:
    """Why a delivery to ``url`` is refused now (its text, or an address its host resolves to), or None."""
    try:
        target = parse_target(url, policy)
    except TargetRefused as exc:
        return f"refused: {exc.reason}"
    if policy.allow_private:
        return None
    if target.address is not None:
        return None  # a literal address passed parse_target
    try:
        addresses = await resolve(target.host, target.port)
    except OSError as exc:
        return f"refused: {target.host} does not resolve ({exc})"
    if not addresses:
        return f"refused: {target.host} does not resolve"
    for address in addresses:
        if (problem := address_problem(address)) is not None:
            return f"refused: {target.host} resolves to {address}, {problem}"
    return None


def public_address(host: str) -> bool:
    """Whether a resolved address (as the HTTP client is about to connect to it) is one deliveries may go to."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return address_problem(address) is None
