"""Where a webhook may point: the URL's text, numeric hosts in every spelling, addresses resolved before delivery."""

from __future__ import annotations

import ipaddress
from ipaddress import IPv4Address, IPv6Address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.registry.webhooks.targets import (
    IPAddress,
    TargetPolicy,
    TargetRefused,
    address_problem,
    delivery_refusal,
    numeric_ipv4,
    parse_target,
)  # fmt: skip

STRICT = TargetPolicy()


@pytest.mark.parametrize(
    "url",
    [
        "http://partner.example.com/hook",  # https only outside development
        "ftp://partner.example.com/hook",
        "https://user:pw@partner.example.com/hook",
        "https://token@partner.example.com/hook",
        "https://partner.example.com:8443/hook",  # not a standard port, not allowed
        "https://partner.example.com:0/hook",
        "https://partner.example.com:99999/hook",
        "https://localhost/hook",
        "https://LOCALHOST./hook",
        "https://api.localhost/hook",
        "https://printer.local/hook",
        "https://intranet/hook",  # a single-label name
        "https://127.0.0.1/hook",
        "https://127.1/hook",
        "https://2130706433/hook",  # decimal
        "https://0177.0.0.1/hook",  # octal
        "https://0x7f.0.0.1/hook",  # hex
        "https://0x7f000001/hook",
        "https://127.0.0.1./hook",  # trailing dot
        "https://10.1.2.3/hook",
        "https://172.16.0.9/hook",
        "https://192.168.1.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://100.64.0.1/hook",  # carrier-grade NAT
        "https://0.0.0.0/hook",
        "https://224.0.0.1/hook",
        "https://240.0.0.1/hook",
        "https://255.255.255.255/hook",
        "https://[::1]/hook",
        "https://[::]/hook",
        "https://[fe80::1]/hook",
        "https://[fe80::1%25eth0]/hook",
        "https://[fc00::1]/hook",
        "https://[fd12:3456::1]/hook",
        "https://[ff02::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",  # IPv4-mapped
        "https://[::ffff:a00:1]/hook",
        "https://[2002:7f00:1::1]/hook",  # 6to4 around 127.0.0.1
        "https://[64:ff9b::a00:1]/hook",  # NAT64 around 10.0.0.1
        "https://[::127.0.0.1]/hook",  # IPv4-compatible
        "https://999.1.1.1/hook",
        "https://1.2.3.4.5/hook",
        "https://example.08/hook",
        "https:///hook",
        "https://exa mple.com/hook",
        "https://-bad-.example.com/hook",
    ],
)
def test_refused_urls(url: str) -> None:
    with pytest.raises(TargetRefused):
        parse_target(url, STRICT)


@pytest.mark.parametrize(
    ("url", "host", "port"),
    [
        ("https://partner.example.com/hook?x=1", "partner.example.com", 443),
        ("https://Partner.Example.COM./hook", "partner.example.com", 443),
        ("https://partner.example.com:443/hook", "partner.example.com", 443),
        ("https://93.184.216.34/hook", "93.184.216.34", 443),
        ("https://[2606:4700:4700::1111]/hook", "2606:4700:4700::1111", 443),
        ("https://bücher.example/hook", "xn--bcher-kva.example", 443),
    ],
)
def test_accepted_urls(url: str, host: str, port: int) -> None:
    target = parse_target(url, STRICT)
    assert (target.host, target.port) == (host, port)


def test_configured_ports_and_the_development_policies() -> None:
    assert (
        parse_target("https://partner.example.com:8443/h", TargetPolicy(allowed_ports=frozenset({8443}))).port
        == 8443
    )
    development = TargetPolicy.of(environment="development", allow_private=False, allowed_ports=())
    assert parse_target("http://partner.example.com/h", development).scheme == "http"
    with pytest.raises(TargetRefused):
        parse_target("http://127.0.0.1/h", development)  # development allows http, not private addresses
    local = TargetPolicy.of(environment="test", allow_private=True, allowed_ports=(8080,))
    assert parse_target("http://127.0.0.1:8080/h", local).host == "127.0.0.1"
    with pytest.raises(TargetRefused):
        parse_target("http://user:pw@127.0.0.1:8080/h", local)  # credentials never
    production = TargetPolicy.of(environment="production", allow_private=False, allowed_ports=())
    assert production.require_https
    assert not production.allow_private


def _spellings(address: IPv4Address) -> list[str]:
    """Ways the C library (and browsers) read as the same IPv4 address."""
    octets = address.packed
    number = int(address)
    return [
        str(address), str(number), hex(number), "0" + oct(number)[2:],
        ".".join(f"0{octet:o}" for octet in octets), ".".join(hex(octet) for octet in octets),
        f"{octets[0]}.{int.from_bytes(octets[1:], 'big')}", f"{octets[0]}.{octets[1]}.{int.from_bytes(octets[2:], 'big')}",
        f"{address}.",
    ]  # fmt: skip


@given(st.ip_addresses(v=4))
def test_every_numeric_spelling_is_the_same_address_and_judged_alike(address: IPv4Address) -> None:
    for spelling in _spellings(address):
        assert numeric_ipv4(spelling.rstrip(".")) == address, spelling
        problem = address_problem(address)
        if problem is None:
            assert parse_target(f"https://{spelling}/hook", STRICT).address == address
        else:
            with pytest.raises(TargetRefused):
                parse_target(f"https://{spelling}/hook", STRICT)


@given(st.ip_addresses(v=4))
def test_an_ipv4_address_inside_ipv6_is_judged_as_itself(address: IPv4Address) -> None:
    mapped = IPv6Address(f"::ffff:{address}")
    nat64 = IPv6Address(int(ipaddress.ip_address("64:ff9b::")) | int(address))
    for wrapped in (mapped, nat64):
        if address_problem(address) is not None:
            assert address_problem(wrapped) is not None, wrapped
            with pytest.raises(TargetRefused):
                parse_target(f"https://[{wrapped}]/hook", STRICT)


@given(st.ip_addresses())
def test_only_global_addresses_pass(address: IPAddress) -> None:
    if address_problem(address) is None:
        assert address.is_global
    if address.is_private or address.is_loopback or address.is_link_local or address.is_multicast:
        assert address_problem(address) is not None


@given(st.text(max_size=60))
def test_any_text_is_refused_or_parsed_never_an_error(text: str) -> None:
    try:
        target = parse_target(f"https://{text}/hook", STRICT)
    except TargetRefused:
        return
    assert target.address is None or address_problem(target.address) is None


async def test_a_name_is_resolved_again_before_each_delivery() -> None:
    """DNS may have changed since the subscription: every address the name resolves to must be public."""

    def resolver(*addresses: str):  # type: ignore[no-untyped-def]
        async def resolve(host: str, port: int) -> list[IPAddress]:
            assert (host, port) == ("partner.example.com", 443)
            return [ipaddress.ip_address(address) for address in addresses]

        return resolve

    url = "https://partner.example.com/hook"
    assert await delivery_refusal(url, STRICT, resolver("93.184.216.34")) is None
    refused = await delivery_refusal(url, STRICT, resolver("93.184.216.34", "10.0.0.7"))
    assert refused is not None
    assert "10.0.0.7" in refused
    assert "private" in refused
    mapped = await delivery_refusal(url, STRICT, resolver("::ffff:169.254.169.254"))
    assert mapped is not None
    assert "link-local" in mapped
    assert "does not resolve" in (await delivery_refusal(url, STRICT, resolver()) or "")

    async def failing(host: str, port: int) -> list[IPAddress]:
        raise OSError("Name or service not known")

    assert "does not resolve" in (await delivery_refusal(url, STRICT, failing) or "")
    assert "scheme" in (await delivery_refusal("http://partner.example.com/hook", STRICT, failing) or "")
