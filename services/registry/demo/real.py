"""The real Quảng Ninh OCOP products the demo starts from, and the demo's decisions about each.

Source: 38 Quảng Ninh OCOP products compiled from public news pages (source ids P01–P24 and their
addresses in SOURCES.md beside this file). What the sources state is kept: product and producer
names, stars, rating rounds, localities. What they do not state is decided here, in one place:

* **Producers not named** (13 products): the product is given to one of the demo's fictional
  producers in the stated district. Named producers get no invented people or contacts: their
  representative is "(chưa cập nhật)" and they have no phone or e-mail; their tax codes, like every
  demo tax code, come from the reserved demo range.
* **Localities** are the post-2025 commune that took in the stated pre-2025 commune (Đồng Rui →
  Hải Lạng, Đông Xá → đặc khu Vân Đồn, Đồng Tâm → Lục Hồn, Quang Trung → Uông Bí, Đạp Thanh → Kỳ
  Thượng, Quảng La → Quảng La) or, for a district only, its seat; a producer with no stated
  locality is placed in a commune its name points to (Quang Hanh, Đường Hoa) or drawn at random.
* **Stars not stated** (11 products "named as OCOP products"): 3★.
* **First rating**: every rated product of the demo was first rated in 2017–2020 (the published
  breakdown is of that period). Known first ratings are kept (Miến dong Bình Liêu 4★ 2017; the
  pearls 5★ 2020 per P02b); the others are drawn from that period. Later real rounds are kept as
  the certificates issued then (the 2023 provincial round on 05/02/2024, the date of P02's list;
  Quy Hoa's national 5★ in 2022; Đạp Thanh's national 5★ by QĐ 377/QĐ-BNN-VPĐP of 17/01/2025).
* **Seven 5★**: the published 2017–2020 breakdown has 7 five-star products; the sources give 8.
  Miến dong Bình Liêu became national 5★ only in 2025 and its 2017–2020 rating is known (4★), so the
  demo keeps it at 4★. The two Bavabi ruốc products keep their unverified 5★; the source does not
  say which level recognised it, most likely the province's own pre-2020 rating, but the registry
  records a 5★ only from the central level (OCOP-DOMAIN.md §2.2), so the demo issues theirs there.
* **Authorities and decisions**: the demo's scoring service issues every certificate (see
  ``generator.py``): 5★ by the ministry (Bộ Nông nghiệp và Phát triển nông thôn; Bộ Nông nghiệp và
  Môi trường from 1 March 2025), 3★ by the district's People's Committee while Decisions 781 and 148
  let districts certify it (8 June 2020 – 5 July 2025), every other 3–4★ by Ủy ban nhân dân tỉnh
  Quảng Ninh. Only Đạp Thanh's decision number is known (QĐ 377/QĐ-BNN-VPĐP); scoring gives the
  others demo numbers marked as such ("DEMO-…"), and certificate numbers are scoring's own.
* **Groups** follow the 148/2023 product sets: tea (chè) is set 11, in the food group; pearls are
  handicrafts (set 21); Thiên đường hoa Quảng La is counted as a tourism site (set 26), one of the
  breakdown's 3 services.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

ROUND_2023 = date(2024, 2, 5)


@dataclass(frozen=True)
class Producer:
    """A producer the sources name."""

    key: str
    legal_name: str
    entity_type: str
    commune_code: str | None
    note: str


@dataclass(frozen=True)
class Rating:
    """A certificate the sources report: when, how many stars, at which level (and its decision's number)."""

    issued_on: date
    star: int
    level: str
    decision_number: str | None = None


@dataclass(frozen=True)
class RealProduct:
    """A real product and how the demo rates it."""

    name: str
    product_set: int
    star: int
    producer: str | None
    district: str | None
    commune_code: str | None = None
    first_rated_on: date | None = None
    first_star: int | None = None
    ratings: tuple[Rating, ...] = ()
    description: str | None = None
    sources: str = ""


PRODUCERS = (
    Producer("halong_pearl", "Công ty CP Ngọc trai Hạ Long", "enterprise", "06688",
             "HaLong Pearl JSC (P01); locality not stated, placed in a Hạ Long ward after its name."),
    Producer("quy_hoa", "Công ty TNHH Thương mại dịch vụ và Xuất nhập khẩu Quy Hoa", "enterprise", "06922",
             "Hải Hà (P01): placed in Quảng Hà, the district seat."),
    Producer("dap_thanh", "Công ty CP Kinh doanh lâm sản Đạp Thanh", "enterprise", "06979",
             "Đạp Thanh, Ba Chẽ (P04), now part of xã Kỳ Thượng."),
    Producer("binh_lieu_trade", "Công ty CP Thương mại và Dịch vụ Bình Liêu", "enterprise", "06856",
             "Factory in Đồng Tâm, now Lục Hồn (P07)."),
    Producer("thien_thuan_tuong", "Công ty CP khai thác khoáng sản Thiên Thuận Tường", "enterprise", None,
             "P02; locality not stated."),
    Producer("ba_che_forest", "Hợp tác xã kinh doanh dịch vụ lâm sản ngoài gỗ Ba Chẽ", "cooperative", "06970",
             "Ba Chẽ, from its name (P02)."),
    Producer("quang_hanh_drinks", "Công ty CP Xây dựng và sản xuất Bia - Rượu - Nước giải khát", "enterprise",
             "06778", "P02; locality not stated, placed in Quang Hanh after the water it bottles."),
    Producer("quang_hanh_water", "Công ty CP Nước khoáng Quang Hanh", "enterprise", "06778",
             "P02; placed in Quang Hanh after its name."),
    Producer("viet_hoang", "Hợp tác xã Việt Hoàng", "cooperative", None, "P02; locality not stated."),
    Producer("dong_tien", "Hợp tác xã chăn nuôi và dịch vụ Đồng Tiến", "cooperative", "06886",
             "Đồng Rui, Tiên Yên (P13), now part of xã Hải Lạng."),
    Producer("le_minh", "Hợp tác xã sản xuất kinh doanh dịch vụ Lê Minh", "cooperative", None,
             "P02; locality not stated."),
    Producer("long_hai", "Công ty TNHH Long Hải", "enterprise", None, "P02, P14; locality not stated."),
    Producer("phuong_thuy", "Công ty TNHH Thương mại và Sản xuất Phương Thùy", "enterprise", None,
             "P14; locality not stated."),
    Producer("thuan_quynh", "Công ty TNHH Thuấn Quỳnh", "enterprise", "06946",
             "Hải Hà (P10): placed in Đường Hoa, the commune its tea is named after."),
    Producer("bavabi", "Công ty TNHH Sản xuất và Thương mại Thủy sản Quảng Ninh", "enterprise", "06994",
             "Bavabi, workshop in Đông Xá, Vân Đồn (P15), now đặc khu Vân Đồn."),
    Producer("hai_yen", "Cơ sở sản xuất dầu thực vật Hai Yen", "household_business", "06811",
             "Named only in English, \"Hai Yen Oil\", Quang Trung ward, Uông Bí (P16), now phường Uông Bí."),
)  # fmt: skip

PEARLS_RATED_ON = date(2020, 12, 15)
_PEARL_TEXT = "Ngọc trai nuôi cấy của Công ty CP Ngọc trai Hạ Long, sản phẩm OCOP 5 sao quốc gia."
_ROUND_2023 = (Rating(ROUND_2023, 4, "province"),)

PRODUCTS = (
    RealProduct("Ngọc trai Akoya", 21, 5, "halong_pearl", None, first_rated_on=PEARLS_RATED_ON, description=_PEARL_TEXT,
                sources="P01;P02b"),
    RealProduct("Ngọc trai Tahiti", 21, 5, "halong_pearl", None, first_rated_on=PEARLS_RATED_ON, description=_PEARL_TEXT,
                sources="P01;P02b"),
    RealProduct("Ngọc trai Southsea", 21, 5, "halong_pearl", None, first_rated_on=PEARLS_RATED_ON, description=_PEARL_TEXT,
                sources="P01;P02b"),
    RealProduct("Trà hoa vàng Quy Hoa", 18, 5, "quy_hoa", "Hải Hà", first_star=4,
                ratings=(Rating(date(2022, 12, 20), 5, "central"),),
                description="Trà hoa vàng Hải Hà, sản phẩm OCOP 5 sao quốc gia năm 2022.", sources="P01"),
    RealProduct("Trà hoa vàng Ba Chẽ", 18, 5, "dap_thanh", "Ba Chẽ", first_star=4,
                ratings=(Rating(ROUND_2023, 4, "province"),
                         Rating(date(2025, 1, 17), 5, "central", "377/QĐ-BNN-VPĐP")),
                description="Trà hoa vàng Ba Chẽ, OCOP 5 sao quốc gia (kỳ đánh giá 2024).", sources="P03;P04;P05"),
    RealProduct("Miến dong Bình Liêu", 6, 4, "binh_lieu_trade", "Bình Liêu", first_rated_on=date(2017, 9, 15),
                description="Miến dong làm từ củ dong riềng trồng tại Bình Liêu.", sources="P06;P07;P08"),
    RealProduct("Thịt lợn hương", 2, 4, "thien_thuan_tuong", None, ratings=_ROUND_2023, sources="P02"),
    RealProduct("Thịt lợn hướng nạc nguồn gốc từ châu Âu", 2, 4, "thien_thuan_tuong", None,
                ratings=_ROUND_2023, sources="P02"),
    RealProduct("Rượu nấm lim xanh Ba Chẽ", 15, 4, "ba_che_forest", "Ba Chẽ", ratings=_ROUND_2023, sources="P02"),
    RealProduct("Rượu ba kích Ba Chẽ", 15, 4, "ba_che_forest", "Ba Chẽ", ratings=_ROUND_2023,
                description="Rượu ngâm củ ba kích tím Ba Chẽ.", sources="P02"),
    RealProduct("Rượu ba kích đặc sản Quảng Ninh", 15, 4, "quang_hanh_drinks", None, ratings=_ROUND_2023,
                sources="P02"),
    RealProduct("Nước uống đóng chai Quang Hanh", 16, 4, "quang_hanh_drinks", None, ratings=_ROUND_2023,
                sources="P02"),
    RealProduct("Nước khoáng thiên nhiên Quang Hanh (bổ sung ga chất lượng cao)", 16, 4, "quang_hanh_water",
                None, ratings=_ROUND_2023, sources="P02"),
    RealProduct("Nước khoáng thiên nhiên Quang Hanh Fresh", 16, 4, "quang_hanh_water", None,
                ratings=_ROUND_2023, sources="P02"),
    RealProduct("Nước khoáng Quang Hanh Fresh vị chanh muối", 16, 4, "quang_hanh_water", None,
                ratings=_ROUND_2023, sources="P02"),
    RealProduct("Rượu đông trùng hạ thảo Vietcor", 15, 4, "viet_hoang", None, ratings=_ROUND_2023, sources="P02"),
    RealProduct("Trứng vịt biển Đồng Rui", 2, 4, "dong_tien", "Tiên Yên", ratings=_ROUND_2023,
                description="Trứng vịt biển nuôi thả ở rừng ngập mặn Đồng Rui.", sources="P02;P13"),
    RealProduct("Rượu sim Quý Chuẩn", 15, 4, "le_minh", None, ratings=_ROUND_2023, sources="P02"),
    RealProduct("Nấm kim châm", 1, 4, "long_hai", None, ratings=_ROUND_2023, sources="P02;P14"),
    RealProduct("Nấm đùi gà", 1, 4, "long_hai", None, ratings=_ROUND_2023, sources="P02;P14"),
    RealProduct("Mực ống Cô Tô khô", 8, 4, None, "Cô Tô", "07192", ratings=_ROUND_2023, sources="P02;P17"),
    RealProduct("Đông trùng hạ thảo khô Phương Thùy", 18, 4, "phuong_thuy", None, ratings=_ROUND_2023,
                sources="P03;P14"),
    RealProduct("Nước lọc tinh khiết Bình Liêu", 16, 4, None, "Bình Liêu", "06838", sources="P09"),
    RealProduct("Chè Đường Hoa", 11, 4, "thuan_quynh", "Hải Hà", sources="P10"),
    RealProduct("Gà Tiên Yên", 2, 3, None, "Tiên Yên", "06862", sources="P11;P24"),
    RealProduct("Khoai lang đất bãi Đồng Rui", 1, 3, None, "Tiên Yên", "06886", sources="P12"),
    RealProduct("Ruốc hàu Thái Bình Dương", 8, 5, "bavabi", "Vân Đồn", sources="P15"),
    RealProduct("Ruốc cơ trai", 8, 5, "bavabi", "Vân Đồn", sources="P15"),
    RealProduct("Dầu lạc, dầu vừng, dầu đậu tương Hai Yen", 7, 3, "hai_yen", "Uông Bí", sources="P16"),
    RealProduct("Gạo nếp cái hoa vàng Đông Triều", 3, 3, None, "Đông Triều", "07093", sources="P20;P21"),
    RealProduct("Na dai Đông Triều", 1, 3, None, "Đông Triều", "07081", sources="P22"),
    RealProduct("Vịt trời Hải Hà", 2, 3, None, "Hải Hà", "06922", sources="P20"),
    RealProduct("Chè Hằng Nga", 11, 3, None, None, sources="P20"),
    RealProduct("Lợn Móng Cái", 2, 3, None, "Móng Cái", "06712", sources="P18"),
    RealProduct("Chả mực Hạ Long", 8, 3, None, "Hạ Long", "06685", sources="P24;P05"),
    RealProduct("Nước mắm sá sùng Vân Đồn", 9, 3, None, "Vân Đồn", "06994", sources="P05"),
    RealProduct("Tinh dầu tràm Tiên Yên", 20, 3, None, "Tiên Yên", "06862", sources="P05"),
    RealProduct("Thiên đường hoa Quảng La", 26, 3, None, "Hạ Long", "07054", sources="P02b"),
)  # fmt: skip
