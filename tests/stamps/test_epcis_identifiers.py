"""services.stamps.epcis.identifiers: EPC URNs and GS1 Digital Links on any host normalise to one form."""

from __future__ import annotations

import contextlib
from urllib.parse import quote

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from services.stamps.epcis import identifiers
from services.stamps.epcis.identifiers import canonical
from shared import gs1
from shared.gs1 import InvalidIdentifier

DIGITS = st.text(alphabet="0123456789", min_size=1, max_size=1)
CSET82 = st.text(alphabet=gs1.CSET82, min_size=1, max_size=20)
HOSTS = st.sampled_from(
    ["id.gs1.org", "ID.GS1.ORG", "tem.ocop.example.vn", "TEM.OCOP.EXAMPLE.VN", "example.com"]
)


@st.composite
def company_and_item(draw: st.DrawFn) -> tuple[str, str, str]:
    """A company prefix (6-12 digits; Vietnam's are 893 + 4-6), indicator + item reference, and the GTIN-14."""
    prefix_length = draw(st.integers(min_value=6, max_value=12))
    digits = draw(st.text(alphabet="0123456789", min_size=13, max_size=13))
    company, item = digits[1 : prefix_length + 1], digits[0] + digits[prefix_length + 1 :]
    body = item[0] + company + item[1:]
    return company, item, body + str(gs1.check_digit(body))


@given(company_and_item(), CSET82, HOSTS, st.sampled_from(["https", "HTTPS", "http"]))
def test_an_sgtin_urn_and_its_digital_link_are_one_epc(
    keys: tuple[str, str, str], serial: str, host: str, scheme: str
) -> None:
    company, item, gtin = keys
    urn = f"urn:epc:id:sgtin:{company}.{item}.{quote(serial, safe='')}"
    link = f"{scheme}://{host}/01/{gtin}/21/{quote(serial, safe='')}"
    assert canonical(urn) == canonical(link) == f"/01/{gtin}/21/{quote(serial, safe='')}"
    assert identifiers.gtin_of(canonical(urn)) == gtin


@given(company_and_item(), CSET82)
def test_an_lgtin_urn_and_its_digital_link_are_one_class(keys: tuple[str, str, str], lot: str) -> None:
    company, item, gtin = keys
    encoded = quote(lot, safe="")
    assert canonical(f"urn:epc:class:lgtin:{company}.{item}.{encoded}") == canonical(
        f"https://id.gs1.org/01/{gtin}/10/{encoded}"
    )
    assert canonical(f"urn:epc:idpat:sgtin:{company}.{item}.*") == canonical(f"https://id.gs1.org/01/{gtin}")


@given(st.text(alphabet="0123456789", min_size=17, max_size=17), st.integers(min_value=6, max_value=12))
def test_an_sscc_urn_and_its_digital_link_are_one_unit(digits: str, prefix_length: int) -> None:
    company, reference = digits[1 : prefix_length + 1], digits[0] + digits[prefix_length + 1 :]
    sscc = digits + str(gs1.check_digit(digits))
    assert canonical(f"urn:epc:id:sscc:{company}.{reference}") == canonical(f"https://id.gs1.org/00/{sscc}")


@given(st.text(alphabet="0123456789", min_size=12, max_size=12), st.integers(min_value=6, max_value=11))
def test_an_sgln_urn_and_its_digital_link_are_one_location(digits: str, prefix_length: int) -> None:
    company, location = digits[:prefix_length], digits[prefix_length:]
    gln = digits + str(gs1.check_digit(digits))
    assert canonical(f"urn:epc:id:sgln:{company}.{location}.0") == canonical(f"https://id.gs1.org/414/{gln}")
    assert canonical(f"urn:epc:id:sgln:{company}.{location}.A1") == f"/414/{gln}/254/A1"


@given(CSET82)
def test_a_value_encoded_or_not_is_one_value(serial: str) -> None:
    gtin = "08934567000017"
    plain = f"https://id.gs1.org/01/{gtin}/21/{quote(serial, safe='/')}"
    if "/" in serial:
        return  # a raw slash is a path separator: only the encoded form names that serial
    assert canonical(plain) == canonical(f"https://id.gs1.org/01/{gtin}/21/{quote(serial, safe='')}")


def test_gs1s_own_examples_normalise_as_the_standard_says() -> None:
    # TRACEABILITY §2.4: urn:epc:id:sgtin:0614141.107346.x is GTIN 10614141073464
    assert canonical("urn:epc:id:sgtin:0614141.107346.2018") == "/01/10614141073464/21/2018"
    assert canonical("urn:epc:id:sgtin:0614141.712345.2018") == canonical(
        "https://id.gs1.org/01/70614141123451/21/2018"
    )
    assert canonical("urn:epc:class:lgtin:4012345.012345.998877") == canonical(
        "https://id.gs1.org/01/04012345123456/10/998877"
    )
    assert canonical("urn:epc:idpat:sgtin:4012345.098765.*") == canonical(
        "https://id.gs1.org/01/04012345987652"
    )
    assert canonical("urn:epc:id:giai:4000001.111") == canonical("https://id.gs1.org/8004/4000001111")
    assert canonical("urn:epc:id:pgln:9520999.99999") == "/417/9520999999990"


def test_our_printed_link_matches_gs1s_form() -> None:
    printed = gs1.digital_link("8934567000017", "7K3Q9M2XH4TB8VNCF9").uri("tem.ocop.example.vn")
    assert printed.startswith("HTTPS://TEM.OCOP.EXAMPLE.VN/")
    assert canonical(printed) == canonical("https://id.gs1.org/01/08934567000017/21/7K3Q9M2XH4TB8VNCF9")
    assert canonical("https://tem.ocop.example.vn/01/8934567000017/21/7K3Q9M2XH4TB8VNCF9") == canonical(
        printed
    )
    assert identifiers.digital_link(canonical(printed)) == (
        "https://id.gs1.org/01/08934567000017/21/7K3Q9M2XH4TB8VNCF9"
    )


@pytest.mark.parametrize(
    "uri",
    [
        "urn:uuid:3f6c1d2e-8a4b-4c1e-9d7a-2b5e6f708192",
        "https://tem.ocop.example.vn/S/7K3Q9M2XH4TB8VNCF9",
        "https://ocop.example.gov.vn/loc/province-authority",
        "urn:epc:id:gid:952056.2718.1234",
        "urn:epc:idpat:sgtin:4012345.*.*",
    ],
)
def test_identifiers_of_no_mapped_gs1_key_are_their_own_form(uri: str) -> None:
    assert canonical(uri) == uri
    assert identifiers.gtin_of(canonical(uri)) is None


@pytest.mark.parametrize(
    "uri",
    [
        "https://id.gs1.org/01/08934567000018/21/ABC",  # check digit
        "https://id.gs1.org/01/893456700001/21/ABC",  # 12 digits with a wrong check digit
        "https://id.gs1.org/01/08934567000017/21/ABC/10/L1",  # qualifier order
        "https://id.gs1.org/00/12345",
        "urn:epc:id:sgtin:0614141.10734.2018",  # 12 digits, not 13
        "urn:epc:id:sgtin:0614141.107346",  # no serial
        "urn:epc:id:sscc:0614141.123",
        "urn:epc:id:sgln:0614141.0077.0",
    ],
)
def test_a_malformed_gs1_identifier_is_refused(uri: str) -> None:
    with pytest.raises(InvalidIdentifier):
        canonical(uri)


@given(st.text(max_size=80))
def test_canonical_never_fails_otherwise(text: str) -> None:
    with contextlib.suppress(InvalidIdentifier):
        canonical(text)


@given(
    st.text(alphabet="0123456789", min_size=1, max_size=14),
    st.text(alphabet="0123456789", min_size=1, max_size=9),
    st.text(alphabet="0123456789ABCXYZabcxyz._~-%/", min_size=0, max_size=24),
)
@example("0614141", "107346", "2018")
@example("893456", "7000012", "A.b~c-d_1")
@example("0614141", "107346", "a" * 21)
def test_the_common_sgtin_urn_reads_as_the_general_parser_reads_it(
    company: str, item: str, serial: str
) -> None:
    """Lower-case SGTIN URNs take a shortcut; the upper-case scheme takes the general parser: one answer."""
    urn = f"urn:epc:id:sgtin:{company}.{item}.{serial}"
    upper = urn.replace("urn:epc:id:sgtin:", "URN:EPC:ID:SGTIN:")
    answers = []
    for form in (urn, upper):
        try:
            answers.append(canonical(form))
        except InvalidIdentifier:
            answers.append(None)
    assert answers[0] == answers[1]
