"""The national product classification: 26 product sets, their groups and sectors, per version.

148/2023 and 26/2026 share the list of OCOP-DOMAIN.md §2.3 (six groups; 26/2026 adds sub-groups);
1048/2019 had six sectors whose set list was never published in full, so its mapping of sets to
sectors is our reading of the 148 list onto the 1048 sectors (ornamentals did not exist then).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Classification = Literal["148", "26/2026", "1048"]

GROUPS = {
    "food": "Thực phẩm",
    "beverages": "Đồ uống",
    "herbal": "Dược liệu và sản phẩm từ dược liệu",
    "handicrafts": "Hàng thủ công mỹ nghệ",
    "ornamentals": "Sinh vật cảnh",
    "tourism": "Dịch vụ du lịch cộng đồng, du lịch sinh thái và điểm du lịch",
}

SECTORS_1048 = {
    "food": "Thực phẩm",
    "beverages": "Đồ uống",
    "herbal": "Thảo dược",
    "textiles": "Vải và may mặc",
    "souvenirs": "Lưu niệm – nội thất – trang trí",
    "tourism": "Dịch vụ du lịch nông thôn, bán hàng",
}


@dataclass(frozen=True)
class ProductSet:
    """One of the 26 product sets (bộ sản phẩm)."""

    number: int
    name: str
    group: str
    subgroup: str
    sector_1048: str


PRODUCT_SETS = {
    s.number: s
    for s in (
        ProductSet(1, "Rau, củ, quả, hạt tươi", "food", "fresh food", "food"),
        ProductSet(2, "Thịt, thủy sản, trứng, sữa tươi", "food", "fresh food", "food"),
        ProductSet(3, "Gạo, ngũ cốc, các loại hạt sơ chế", "food", "raw and pre-processed", "food"),
        ProductSet(
            4, "Mật ong, các loại siro và nông sản thực phẩm khác", "food", "raw and pre-processed", "food"
        ),
        ProductSet(5, "Đồ ăn nhanh", "food", "processed", "food"),
        ProductSet(6, "Chế biến từ gạo, ngũ cốc", "food", "processed", "food"),
        ProductSet(7, "Chế biến từ rau, củ, quả, hạt", "food", "processed", "food"),
        ProductSet(
            8, "Chế biến từ thịt, trứng, sữa, thủy sản, mật ong và nông sản khác", "food", "processed", "food"
        ),
        ProductSet(9, "Tương, nước mắm, gia vị dạng lỏng khác", "food", "condiments", "food"),
        ProductSet(10, "Gia vị khác (muối, hành, tỏi, tiêu…)", "food", "condiments", "food"),
        ProductSet(11, "Chè tươi và chế biến", "food", "tea", "beverages"),
        ProductSet(12, "Sản phẩm khác từ chè, trà", "food", "tea", "beverages"),
        ProductSet(13, "Cà phê, ca cao", "food", "coffee and cocoa", "beverages"),
        ProductSet(14, "Rượu trắng", "beverages", "alcoholic", "beverages"),
        ProductSet(15, "Đồ uống có cồn khác", "beverages", "alcoholic", "beverages"),
        ProductSet(
            16, "Nước khoáng thiên nhiên, nước uống đóng chai", "beverages", "non-alcoholic", "beverages"
        ),
        ProductSet(17, "Đồ uống không cồn khác", "beverages", "non-alcoholic", "beverages"),
        ProductSet(
            18, "Thực phẩm chức năng, thuốc dược liệu, thuốc y học cổ truyền", "herbal", "herbal", "herbal"
        ),
        ProductSet(19, "Mỹ phẩm có thành phần từ dược liệu", "herbal", "herbal", "herbal"),
        ProductSet(20, "Tinh dầu và dược liệu khác", "herbal", "herbal", "herbal"),
        ProductSet(21, "Thủ công mỹ nghệ gia dụng, trang trí", "handicrafts", "handicrafts", "souvenirs"),
        ProductSet(22, "Vải, may mặc", "handicrafts", "textiles", "textiles"),
        ProductSet(23, "Hoa", "ornamentals", "ornamentals", "souvenirs"),
        ProductSet(24, "Cây cảnh", "ornamentals", "ornamentals", "souvenirs"),
        ProductSet(25, "Động vật cảnh", "ornamentals", "ornamentals", "souvenirs"),
        ProductSet(
            26,
            "Dịch vụ du lịch cộng đồng, du lịch sinh thái và điểm du lịch",
            "tourism",
            "tourism",
            "tourism",
        ),
    )
}


def classify(product_set: int, classification: Classification) -> tuple[str, str]:
    """The (group, sector) a product set belongs to under a classification version."""
    entry = PRODUCT_SETS[product_set]
    if classification == "1048":
        return entry.sector_1048, SECTORS_1048[entry.sector_1048]
    return entry.group, entry.subgroup
