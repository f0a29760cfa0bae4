"""The 34 provinces against the reform's texts: codes, the merges, the seats kept, centroids and borders."""

from __future__ import annotations

import pytest

from services.stamps.anomalies import geography

# Resolution 202/2025/QH15 (the list of Resolution 60-NQ/TW): each new province, the old provinces merged
# into it and the one whose seat it kept, with the old codes of Decision 124/2004/QĐ-TTg.
REFORM: dict[str, tuple[str, dict[str, str], str]] = {
    "01": ("Hà Nội", {"Hà Nội": "01"}, "Hà Nội"),
    "04": ("Cao Bằng", {"Cao Bằng": "04"}, "Cao Bằng"),
    "08": ("Tuyên Quang", {"Tuyên Quang": "08", "Hà Giang": "02"}, "Tuyên Quang"),
    "11": ("Điện Biên", {"Điện Biên": "11"}, "Điện Biên"),
    "12": ("Lai Châu", {"Lai Châu": "12"}, "Lai Châu"),
    "14": ("Sơn La", {"Sơn La": "14"}, "Sơn La"),
    "15": ("Lào Cai", {"Lào Cai": "10", "Yên Bái": "15"}, "Yên Bái"),
    "19": ("Thái Nguyên", {"Thái Nguyên": "19", "Bắc Kạn": "06"}, "Thái Nguyên"),
    "20": ("Lạng Sơn", {"Lạng Sơn": "20"}, "Lạng Sơn"),
    "22": ("Quảng Ninh", {"Quảng Ninh": "22"}, "Quảng Ninh"),
    "24": ("Bắc Ninh", {"Bắc Ninh": "27", "Bắc Giang": "24"}, "Bắc Giang"),
    "25": ("Phú Thọ", {"Phú Thọ": "25", "Vĩnh Phúc": "26", "Hòa Bình": "17"}, "Phú Thọ"),
    "31": ("Hải Phòng", {"Hải Phòng": "31", "Hải Dương": "30"}, "Hải Phòng"),
    "33": ("Hưng Yên", {"Hưng Yên": "33", "Thái Bình": "34"}, "Hưng Yên"),
    "37": ("Ninh Bình", {"Ninh Bình": "37", "Hà Nam": "35", "Nam Định": "36"}, "Ninh Bình"),
    "38": ("Thanh Hóa", {"Thanh Hóa": "38"}, "Thanh Hóa"),
    "40": ("Nghệ An", {"Nghệ An": "40"}, "Nghệ An"),
    "42": ("Hà Tĩnh", {"Hà Tĩnh": "42"}, "Hà Tĩnh"),
    "44": ("Quảng Trị", {"Quảng Trị": "45", "Quảng Bình": "44"}, "Quảng Bình"),
    "46": ("Huế", {"Thừa Thiên Huế": "46"}, "Thừa Thiên Huế"),
    "48": ("Đà Nẵng", {"Đà Nẵng": "48", "Quảng Nam": "49"}, "Đà Nẵng"),
    "51": ("Quảng Ngãi", {"Quảng Ngãi": "51", "Kon Tum": "62"}, "Quảng Ngãi"),
    "52": ("Gia Lai", {"Gia Lai": "64", "Bình Định": "52"}, "Bình Định"),
    "56": ("Khánh Hòa", {"Khánh Hòa": "56", "Ninh Thuận": "58"}, "Khánh Hòa"),
    "66": ("Đắk Lắk", {"Đắk Lắk": "66", "Phú Yên": "54"}, "Đắk Lắk"),
    "68": ("Lâm Đồng", {"Lâm Đồng": "68", "Đắk Nông": "67", "Bình Thuận": "60"}, "Lâm Đồng"),
    "75": ("Đồng Nai", {"Đồng Nai": "75", "Bình Phước": "70"}, "Đồng Nai"),
    "79": ("Hồ Chí Minh", {"Hồ Chí Minh": "79", "Bình Dương": "74", "Bà Rịa - Vũng Tàu": "77"}, "Hồ Chí Minh"),
    "80": ("Tây Ninh", {"Tây Ninh": "72", "Long An": "80"}, "Long An"),
    "82": ("Đồng Tháp", {"Đồng Tháp": "87", "Tiền Giang": "82"}, "Tiền Giang"),
    "86": ("Vĩnh Long", {"Vĩnh Long": "86", "Bến Tre": "83", "Trà Vinh": "84"}, "Vĩnh Long"),
    "91": ("An Giang", {"An Giang": "89", "Kiên Giang": "91"}, "Kiên Giang"),
    "92": ("Cần Thơ", {"Cần Thơ": "92", "Sóc Trăng": "94", "Hậu Giang": "93"}, "Cần Thơ"),
    "96": ("Cà Mau", {"Cà Mau": "96", "Bạc Liêu": "95"}, "Cà Mau"),
}  # fmt: skip


def test_the_codes_and_names_are_the_reforms() -> None:
    assert set(geography.PROVINCES) == set(REFORM)
    for code, (name, _, _) in REFORM.items():
        assert geography.PROVINCES[code].name.removeprefix("Tỉnh ").removeprefix("Thành phố ") == name


def test_a_merged_province_keeps_the_code_of_the_province_whose_seat_it_kept() -> None:
    for code, (_, merged, kept) in REFORM.items():
        assert merged[kept] == code, code


def test_there_is_one_seat_for_each_of_the_63_old_provinces_under_the_province_it_merged_into() -> None:
    old = {
        province: (code, old_code)
        for code, (_, merged, _) in REFORM.items()
        for province, old_code in merged.items()
    }
    assert len(old) == 63
    assert sorted(seat.old_province for seat in geography.SEATS) == sorted(old)
    for seat in geography.SEATS:
        assert (seat.code, seat.old_code) == old[seat.old_province], seat.old_province


@pytest.mark.parametrize("code", sorted(REFORM))
def test_a_provinces_centroid_is_placed_in_that_province(code: str) -> None:
    province = geography.PROVINCES[code]
    assert geography.province_at(province.latitude, province.longitude) == code


def test_the_borders_name_known_provinces_once_each() -> None:
    pairs = [tuple(sorted(pair)) for pair in geography._BORDERS]
    assert len(pairs) == len(set(pairs))
    assert all(a != b and {a, b} <= set(geography.PROVINCES) for a, b in pairs)
    assert all(geography.neighbours(code) for code in geography.PROVINCES)  # none is an island province


@pytest.mark.parametrize(
    ("code", "near"),
    [
        ("79", {"68", "75", "80", "82"}),  # Đồng Tháp through old Tiền Giang, across the Soài Rạp mouth
        ("82", {"79", "80", "86", "91", "92"}),
        ("80", {"75", "79", "82"}),
        ("25", {"01", "08", "14", "15", "19", "37", "38"}),
        ("14", {"11", "12", "15", "25", "38"}),
        ("48", {"46", "51"}),
        ("01", {"19", "24", "25", "33", "37"}),
    ],
)  # fmt: skip
def test_the_land_neighbours_of_a_province(code: str, near: set[str]) -> None:
    assert geography.neighbours(code) == near


@pytest.mark.parametrize(
    ("place", "code"),
    [
        ((11.25, 106.10), "80"),  # Tây Ninh town's outskirts, beside the Parrot's Beak
        ((10.89, 106.25), "80"),  # old Long An, Đức Huệ, south of the Beak
        ((10.46, 105.63), "82"),  # Cao Lãnh
        ((10.25, 105.97), "86"),  # Vĩnh Long town
        ((9.60, 105.97), "92"),  # Sóc Trăng town
        ((12.00, 107.69), "68"),  # Gia Nghĩa, old Đắk Nông
    ],
)  # fmt: skip
def test_province_at_places_towns_of_merged_provinces(place: tuple[float, float], code: str) -> None:
    assert geography.province_at(*place) == code
