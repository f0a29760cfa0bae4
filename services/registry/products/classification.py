"""The national product classification, per version: sectors, groups and where the 26 product sets sit.

Each version is data of the same shape (OCOP-DOMAIN.md §2.3): sectors, the groups under them, and
each product set's group. A product stores the group (``product_group``) and the sector (``sector``)
of its own version; nothing is translated from one version into another.

- **148/2023**: one level of six groups (nhóm), so a group is its own sector.
- **26/2026**: six sectors (ngành, I–VI), seventeen groups under them, the same 26 product sets.
  The placement is Annex I as two independent public implementations give it (the official text
  was not available): the food sets in six groups, beverages in two, and each set of sectors III–VI
  a group of its own.
- **1048/2019**: one level of six sectors (ngành hàng); its set list was never published in full, so
  the placement of sets is our reading of the 148 list onto the 1048 sectors (no ornamentals then).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Classification = Literal["148", "26/2026", "1048"]


@dataclass(frozen=True)
class ProductSet:
    """One of the 26 product sets (bộ sản phẩm), numbered as in 148/2023 and 26/2026."""

    number: int
    name: str


@dataclass(frozen=True)
class Group:
    """A group of product sets within a sector."""

    name: str
    sector: str
    sets: tuple[int, ...]


@dataclass(frozen=True)
class Version:
    """One classification: its sectors (key → name) and groups (key → group)."""

    code: Classification
    legal_ref: str
    sectors: dict[str, str]
    groups: dict[str, Group]

    def classify(self, product_set: int) -> tuple[str, str]:
        """The (group, sector) keys of a product set."""
        for key, group in self.groups.items():
            if product_set in group.sets:
                return key, group.sector
        raise KeyError(f"product set {product_set} has no group in {self.code}")


PRODUCT_SETS = {
    s.number: s
    for s in (
        ProductSet(1, "Rau, củ, quả, hạt tươi"),
        ProductSet(2, "Thịt, thủy sản, trứng, sữa tươi"),
        ProductSet(3, "Gạo, ngũ cốc, các loại hạt sơ chế"),
        ProductSet(4, "Mật ong, các loại siro và nông sản thực phẩm khác"),
        ProductSet(5, "Đồ ăn nhanh"),
        ProductSet(6, "Chế biến từ gạo, ngũ cốc"),
        ProductSet(7, "Chế biến từ rau, củ, quả, hạt"),
        ProductSet(8, "Chế biến từ thịt, trứng, sữa, thủy sản, mật ong và nông sản khác"),
        ProductSet(9, "Tương, nước mắm, gia vị dạng lỏng khác"),
        ProductSet(10, "Gia vị khác (muối, hành, tỏi, tiêu…)"),
        ProductSet(11, "Chè tươi và chế biến"),
        ProductSet(12, "Sản phẩm khác từ chè, trà"),
        ProductSet(13, "Cà phê, ca cao"),
        ProductSet(14, "Rượu trắng"),
        ProductSet(15, "Đồ uống có cồn khác"),
        ProductSet(16, "Nước khoáng thiên nhiên, nước uống đóng chai"),
        ProductSet(17, "Đồ uống không cồn khác"),
        ProductSet(18, "Thực phẩm chức năng, thuốc dược liệu, thuốc y học cổ truyền"),
        ProductSet(19, "Mỹ phẩm có thành phần từ dược liệu"),
        ProductSet(20, "Tinh dầu và dược liệu khác"),
        ProductSet(21, "Thủ công mỹ nghệ gia dụng, trang trí"),
        ProductSet(22, "Vải, may mặc"),
        ProductSet(23, "Hoa"),
        ProductSet(24, "Cây cảnh"),
        ProductSet(25, "Động vật cảnh"),
        ProductSet(26, "Dịch vụ du lịch cộng đồng, du lịch sinh thái và điểm du lịch"),
    )
}


def _one_level(
    code: Classification, legal_ref: str, units: dict[str, tuple[str, tuple[int, ...]]]
) -> Version:
    """A version whose only level is its groups (or sectors): each is its own sector."""
    return Version(
        code,
        legal_ref,
        sectors={key: name for key, (name, _) in units.items()},
        groups={key: Group(name, key, sets) for key, (name, sets) in units.items()},
    )


V148 = _one_level(
    "148",
    "Quyết định 148/QĐ-TTg (2023)",
    {
        "food": ("Thực phẩm", tuple(range(1, 14))),
        "beverages": ("Đồ uống", (14, 15, 16, 17)),
        "herbal": ("Dược liệu và sản phẩm từ dược liệu", (18, 19, 20)),
        "handicrafts": ("Hàng thủ công mỹ nghệ", (21, 22)),
        "ornamentals": ("Sinh vật cảnh", (23, 24, 25)),
        "tourism": ("Dịch vụ du lịch cộng đồng, du lịch sinh thái và điểm du lịch", (26,)),
    },
)

V2026 = Version(
    "26/2026",
    "Quyết định 26/2026/QĐ-TTg, Phụ lục I",
    sectors={
        "food": "Sản phẩm thực phẩm",
        "beverages": "Sản phẩm đồ uống",
        "herbal": "Sản phẩm dược liệu và sản phẩm từ dược liệu",
        "handicrafts": "Sản phẩm hàng thủ công mỹ nghệ",
        "ornamentals": "Sản phẩm sinh vật cảnh",
        "tourism": "Sản phẩm dịch vụ du lịch cộng đồng, du lịch sinh thái và điểm du lịch",
    },
    groups={
        "fresh_food": Group("Thực phẩm tươi sống", "food", (1, 2)),
        "raw_food": Group("Thực phẩm thô, sơ chế", "food", (3, 4)),
        "processed_food": Group("Thực phẩm chế biến", "food", (5, 6, 7, 8)),
        "condiments": Group("Gia vị", "food", (9, 10)),
        "tea": Group("Chè", "food", (11, 12)),
        "coffee_cocoa": Group("Cà phê, ca cao", "food", (13,)),
        "alcoholic_drinks": Group("Đồ uống có cồn", "beverages", (14, 15)),
        "non_alcoholic_drinks": Group("Đồ uống không cồn", "beverages", (16, 17)),
        "functional_foods_medicines": Group(
            "Thực phẩm chức năng, thuốc dược liệu, thuốc cổ truyền", "herbal", (18,)
        ),
        "herbal_cosmetics": Group("Mỹ phẩm có thành phần từ dược liệu", "herbal", (19,)),
        "essential_oils": Group("Tinh dầu và dược liệu khác", "herbal", (20,)),
        "household_crafts": Group("Thủ công mỹ nghệ gia dụng, trang trí", "handicrafts", (21,)),
        "fabric_garments": Group("Vải, may mặc", "handicrafts", (22,)),
        "flowers": Group("Hoa", "ornamentals", (23,)),
        "ornamental_plants": Group("Cây cảnh", "ornamentals", (24,)),
        "ornamental_animals": Group("Động vật cảnh", "ornamentals", (25,)),
        "community_tourism": Group(
            "Dịch vụ du lịch cộng đồng, du lịch sinh thái và điểm du lịch", "tourism", (26,)
        ),
    },
)

V1048 = _one_level(
    "1048",
    "Quyết định 1048/QĐ-TTg (2019)",
    {
        "food": ("Thực phẩm", tuple(range(1, 11))),
        "beverages": ("Đồ uống", (11, 12, 13, 14, 15, 16, 17)),
        "herbal": ("Thảo dược", (18, 19, 20)),
        "textiles": ("Vải và may mặc", (22,)),
        "souvenirs": ("Lưu niệm – nội thất – trang trí", (21, 23, 24, 25)),
        "tourism": ("Dịch vụ du lịch nông thôn, bán hàng", (26,)),
    },
)

VERSIONS: dict[str, Version] = {version.code: version for version in (V148, V2026, V1048)}


def _group_names() -> dict[str, str]:
    names: dict[str, str] = {}
    # 148 and 1048 share food, beverages, herbal and tourism: the newer name wins.
    for version in (V148, V2026, V1048):
        for key, group in version.groups.items():
            names.setdefault(key, group.name)
    return names


# Every value of product_group with its name, in the order statistics list them.
GROUP_NAMES = _group_names()


def classify(product_set: int, classification: Classification) -> tuple[str, str]:
    """The (group, sector) a product set belongs to under a classification version."""
    return VERSIONS[classification].classify(product_set)
