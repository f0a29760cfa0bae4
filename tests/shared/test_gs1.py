"""GS1 syntax: check digits, the check-character pair, stamp serials and Digital Link URIs (shared/gs1.py)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared import gs1
from shared.gs1 import InvalidIdentifier

SERIAL_BODIES = st.text(alphabet=gs1.CROCKFORD, min_size=16, max_size=16)
LOTS = st.text(alphabet=gs1.CSET82, min_size=1, max_size=20)


def test_the_check_digit_and_gtin14() -> None:
    assert gs1.check_digit("629104150021") == 3
    assert gs1.check_digit("893456700001") == 7
    assert gs1.gtin14("8934567000017") == "08934567000017"
    assert gs1.gtin14("08934567000017") == "08934567000017"
    for bad, why in (("8934567000018", "check digit 8"), ("89345670000", "8, 12, 13 or 14"), ("89345670000x7", "digits"),
                     ("٨٩٣٤٥٦٧٠٠٠٠١٧", "digits")):  # fmt: skip
        with pytest.raises(InvalidIdentifier, match=why) as raised:
            gs1.gtin14(bad)
        assert raised.value.field == "gtin"


def test_the_check_pair_matches_gs1s_own_vectors() -> None:
    assert gs1.check_pair("1987654Ad4X4bL5ttr2310c") == "2K"
    assert gs1.check_pair("12345678901234567890123") == "NT"
    with pytest.raises(InvalidIdentifier):
        gs1.check_pair("has space")


@given(SERIAL_BODIES, st.data())
def test_the_check_pair_catches_every_substitution_and_adjacent_transposition(
    body: str, data: st.DataObject
) -> None:
    pair = gs1.check_pair(body)
    position = data.draw(st.integers(0, 15))
    other = data.draw(st.sampled_from(gs1.CROCKFORD).filter(lambda char: char != body[position]))
    assert gs1.check_pair(body[:position] + other + body[position + 1 :]) != pair
    swap = data.draw(st.integers(0, 14))
    if body[swap] != body[swap + 1]:
        swapped = body[:swap] + body[swap + 1] + body[swap] + body[swap + 2 :]
        assert gs1.check_pair(swapped) != pair


@given(st.text(alphabet="0123456789", min_size=1, max_size=17))
def test_the_check_digit_weighs_the_digits_3_1_3_from_the_right(body: str) -> None:
    total = sum(int(digit) * (3 if position % 2 == 0 else 1) for position, digit in enumerate(reversed(body)))
    assert gs1.check_digit(body) == (10 - total % 10) % 10


@given(st.text(alphabet=gs1.CSET82, min_size=1, max_size=25))
def test_the_check_pair_weighs_each_character_by_a_prime_from_the_right(data: str) -> None:
    primes = gs1.PRIMES[: len(data)][::-1]
    total = sum(gs1.CSET82.index(char) * prime for char, prime in zip(data, primes, strict=True)) % 1021
    assert gs1.check_pair(data) == gs1.CSET32[total // 32] + gs1.CSET32[total % 32]


@given(SERIAL_BODIES, st.text(alphabet=gs1.CSET32, min_size=2, max_size=2))
def test_a_serial_passes_only_with_its_own_check_pair(body: str, pair: str) -> None:
    # serial_problem reads the pair from its own tables; check_pair is the GS1 arithmetic it must agree with.
    assert (gs1.serial_problem(body + pair) is None) == (pair == gs1.check_pair(body))
    assert gs1.serial_problem(body + gs1.check_pair(body)) is None


def test_new_serials_are_valid_random_and_distinct() -> None:
    serials = {gs1.new_serial() for _ in range(10_000)} | set(gs1.new_serials(10_000))
    assert len(serials) == 20_000
    for serial in serials:
        assert len(serial) == 18
        assert gs1.serial_problem(serial) is None
        assert re.fullmatch(r"[0-9A-Z]{18}", serial)
    # Every Crockford character shows up in every position: nothing sequential or fixed.
    for position in range(16):
        assert {serial[position] for serial in serials} == set(gs1.CROCKFORD)


@given(SERIAL_BODIES)
def test_a_serial_as_people_type_it_is_made_canonical(body: str) -> None:
    serial = body + gs1.check_pair(body)
    typed = gs1.grouped(serial).lower().replace("0", "o").replace("1", "l")
    assert gs1.typed_serial(typed) == serial
    assert gs1.grouped(serial)[4] == "-"
    assert len(gs1.grouped(serial)) == 22


@pytest.mark.parametrize(
    ("serial", "why"),
    [
        ("7K3Q9M2XH4TB8VNC", "18 characters"),
        ("7K3Q9M2XH4TB8VNCF9X", "18 characters"),
        ("7k3q9m2xh4tb8vncF9", "upper case"),
        ("7K3Q9M2XH4TB8VNU22", "Crockford"),
    ],
)
def test_malformed_serials_are_named(serial: str, why: str) -> None:
    assert why in (gs1.serial_problem(serial) or "")


def test_a_forged_serial_fails_its_check_pair() -> None:
    serial = gs1.new_serial()
    forged = serial[:-2] + ("22" if serial[-2:] != "22" else "33")
    assert "check characters" in (gs1.serial_problem(forged) or "")


@given(SERIAL_BODIES, st.one_of(st.none(), LOTS))
def test_a_digital_link_parses_back_to_itself(body: str, lot: str | None) -> None:
    link = gs1.digital_link("8934567000017", body + gs1.check_pair(body), lot)
    assert gs1.parse_path(link.path()) == link
    assert gs1.parse_path(link.path() + "/") == link
    assert gs1.parse_uri(link.uri("tem.ocop.example.vn")) == link


def test_the_printed_uri_fits_qr_alphanumeric_mode() -> None:
    link = gs1.digital_link(
        "8934567000017", "7K3Q9M2XH4TB8VNC" + gs1.check_pair("7K3Q9M2XH4TB8VNC"), "L2407A"
    )
    uri = link.uri("tem.ocop.example.vn")
    assert uri == f"HTTPS://TEM.OCOP.EXAMPLE.VN/01/08934567000017/10/L2407A/21/{link.serial}"
    assert re.fullmatch(r"[0-9A-Z $%*+\-./:]+", uri)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/01/08934567000018/21/{serial}", "gtin"),
        ("/21/{serial}/01/08934567000017", "uri"),
        ("/01/08934567000017/21/{serial}/10/L1", "uri"),
        ("/01/08934567000017", "uri"),
        ("/01/08934567000017/10/{long}/21/{serial}", "lot"),
        ("/01/08934567000017/10/L%20A/21/{serial}", "lot"),
        ("/01/08934567000017/21/ABC", "serial"),
        ("/01/08934567000017/22/X/21/{serial}", "uri"),
    ],
)
def test_malformed_links_name_the_part(path: str, field: str) -> None:
    serial = gs1.new_serial()
    with pytest.raises(InvalidIdentifier) as raised:
        gs1.parse_path(path.format(serial=serial, long="L" * 21))
    assert raised.value.field == field


@given(st.text(max_size=80))
def test_parsing_never_fails_other_than_by_naming_the_problem(path: str) -> None:
    fields = set()
    try:
        gs1.parse_path(path)
    except InvalidIdentifier as problem:
        fields.add(problem.field)
    assert fields <= {"gtin", "lot", "serial", "uri"}
