"""Vietnam's 34 provinces since the 1 July 2025 reform: approximate centroids, land neighbours, distances.

Codes are the official two-digit codes of Decision 19/2025/QĐ-TTg (the code of the province whose seat
the merged province kept). Centroids are rough centres of each merged province's land area, good to a
few tens of kilometres: enough to place an IP-geolocated scan in a province and to measure province-level
distances, not to draw borders. ``province_at`` picks, inside Vietnam's bounding box, the province of the
nearest seat among the 63 provincial seats before the reform (each merged province keeps several: a
nearest-seat map follows the merged shapes far better than one centroid each). A point near a border
may still land in the neighbour, and a point in Laos, Cambodia or southern China inside the box is
given a Vietnamese province: treat the answer as approximate.
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
    Province("80", "Tỉnh Tây Ninh", 11.00, 106.15),
    Province("82", "Tỉnh Đồng Tháp", 10.45, 105.95),
    Province("86", "Tỉnh Vĩnh Long", 10.05, 106.25),
    Province("91", "Tỉnh An Giang", 10.25, 105.05),
    Province("92", "Thành phố Cần Thơ", 9.75, 105.75),
    Province("96", "Tỉnh Cà Mau", 9.10, 105.25),
)}  # fmt: skip

# Land borders between the new provinces (each pair once; ``neighbours`` reads both ways).
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

# The seats of the 63 provinces before the reform, under the code of the province each now belongs to.
SEATS: tuple[tuple[str, float, float], ...] = (
    ("01", 21.028, 105.854), ("04", 22.666, 106.258), ("08", 22.823, 104.984), ("08", 21.818, 105.211),
    ("11", 21.386, 103.023), ("12", 22.396, 103.458), ("14", 21.327, 103.914), ("15", 22.486, 103.970),
    ("15", 21.722, 104.911), ("19", 21.594, 105.848), ("19", 22.147, 105.835), ("20", 21.853, 106.761),
    ("22", 20.951, 107.080), ("24", 21.273, 106.194), ("24", 21.186, 106.076), ("25", 21.322, 105.402),
    ("25", 21.310, 105.597), ("25", 20.817, 105.338), ("31", 20.845, 106.688), ("31", 20.940, 106.330),
    ("33", 20.646, 106.051), ("33", 20.446, 106.342), ("37", 20.251, 105.975), ("37", 20.541, 105.914),
    ("37", 20.420, 106.168), ("38", 19.807, 105.776), ("40", 18.679, 105.681), ("42", 18.342, 105.906),
    ("44", 17.468, 106.622), ("44", 16.816, 107.100), ("46", 16.463, 107.590), ("48", 16.054, 108.202),
    ("48", 15.573, 108.474), ("51", 15.120, 108.792), ("51", 14.350, 108.000), ("52", 13.776, 109.224),
    ("52", 13.983, 108.000), ("56", 12.238, 109.197), ("56", 11.565, 108.988), ("66", 12.667, 108.038),
    ("66", 13.096, 109.301), ("68", 11.940, 108.458), ("68", 12.004, 107.690), ("68", 10.928, 108.102),
    ("75", 10.957, 106.843), ("75", 11.535, 106.883), ("79", 10.776, 106.700), ("79", 10.980, 106.651),
    ("79", 10.496, 107.168), ("80", 11.310, 106.098), ("80", 10.535, 106.413), ("82", 10.460, 105.633),
    ("82", 10.360, 106.360), ("86", 10.254, 105.972), ("86", 10.243, 106.376), ("86", 9.935, 106.345),
    ("91", 10.386, 105.435), ("91", 10.012, 105.081), ("92", 10.045, 105.747), ("92", 9.603, 105.980),
    ("92", 9.784, 105.470), ("96", 9.177, 105.150), ("96", 9.294, 105.727),
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
    return min(SEATS, key=lambda seat: haversine_km(latitude, longitude, seat[1], seat[2]))[0]


def centroid(code: str) -> tuple[float, float] | None:
    """A province's approximate centroid (latitude, longitude); None for a code we do not know."""
    province = PROVINCES.get(code)
    return (province.latitude, province.longitude) if province else None
