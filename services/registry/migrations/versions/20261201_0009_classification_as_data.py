"""product classification as data

Every product keeps the group and the sector of its own classification version
(services/registry/products/classification.py). A 26/2026 product now carries one of that decision's
17 groups and 6 sectors instead of a 148 group and an English sub-group; in the one-level versions
(148 and 1048) the sector is the group's key (148 products carried a 26/2026 sub-group there, 1048
products the sector's name). The placements are written out here as they stood at this revision.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# product set → (26/2026 group, 26/2026 sector)
GROUPS_2026 = {
    1: ("fresh_food", "food"),
    2: ("fresh_food", "food"),
    3: ("raw_food", "food"),
    4: ("raw_food", "food"),
    5: ("processed_food", "food"),
    6: ("processed_food", "food"),
    7: ("processed_food", "food"),
    8: ("processed_food", "food"),
    9: ("condiments", "food"),
    10: ("condiments", "food"),
    11: ("tea", "food"),
    12: ("tea", "food"),
    13: ("coffee_cocoa", "food"),
    14: ("alcoholic_drinks", "beverages"),
    15: ("alcoholic_drinks", "beverages"),
    16: ("non_alcoholic_drinks", "beverages"),
    17: ("non_alcoholic_drinks", "beverages"),
    18: ("functional_foods_medicines", "herbal"),
    19: ("herbal_cosmetics", "herbal"),
    20: ("essential_oils", "herbal"),
    21: ("household_crafts", "handicrafts"),
    22: ("fabric_garments", "handicrafts"),
    23: ("flowers", "ornamentals"),
    24: ("ornamental_plants", "ornamentals"),
    25: ("ornamental_animals", "ornamentals"),
    26: ("community_tourism", "tourism"),
}
# What revision 0008 and earlier stored: product set → (148 group, sub-group), for 148 and 26/2026 products alike.
BEFORE = {
    1: ("food", "fresh food"),
    2: ("food", "fresh food"),
    3: ("food", "raw and pre-processed"),
    4: ("food", "raw and pre-processed"),
    5: ("food", "processed"),
    6: ("food", "processed"),
    7: ("food", "processed"),
    8: ("food", "processed"),
    9: ("food", "condiments"),
    10: ("food", "condiments"),
    11: ("food", "tea"),
    12: ("food", "tea"),
    13: ("food", "coffee and cocoa"),
    14: ("beverages", "alcoholic"),
    15: ("beverages", "alcoholic"),
    16: ("beverages", "non-alcoholic"),
    17: ("beverages", "non-alcoholic"),
    18: ("herbal", "herbal"),
    19: ("herbal", "herbal"),
    20: ("herbal", "herbal"),
    21: ("handicrafts", "handicrafts"),
    22: ("handicrafts", "textiles"),
    23: ("ornamentals", "ornamentals"),
    24: ("ornamentals", "ornamentals"),
    25: ("ornamentals", "ornamentals"),
    26: ("tourism", "tourism"),
}
SECTOR_NAMES_1048 = {
    "food": "Thực phẩm", "beverages": "Đồ uống", "herbal": "Thảo dược", "textiles": "Vải và may mặc",
    "souvenirs": "Lưu niệm – nội thất – trang trí", "tourism": "Dịch vụ du lịch nông thôn, bán hàng",
}  # fmt: skip


def _values(rows: dict[int, tuple[str, str]] | dict[str, tuple[str]]) -> str:
    # Constants of this file only (no quotes in them): nothing from outside reaches the statement.
    return ", ".join(
        f"({key!r}, {', '.join(repr(value) for value in values)})" for key, values in rows.items()
    )


def _set_by_product_set(classification: str, rows: dict[int, tuple[str, str]]) -> None:
    op.execute(
        "UPDATE registry.product AS p SET product_group = v.product_group, sector = v.sector "
        f"FROM (VALUES {_values(rows)}) AS v(product_set, product_group, sector) "
        f"WHERE p.product_set = v.product_set AND p.classification = '{classification}'"
    )


def upgrade() -> None:
    op.execute("UPDATE registry.product SET sector = product_group WHERE classification IN ('148', '1048')")
    _set_by_product_set("26/2026", GROUPS_2026)


def downgrade() -> None:
    _set_by_product_set("148", BEFORE)
    _set_by_product_set("26/2026", BEFORE)
    names = {key: (name,) for key, name in SECTOR_NAMES_1048.items()}
    op.execute(
        "UPDATE registry.product AS p SET sector = v.sector "
        f"FROM (VALUES {_values(names)}) AS v(product_group, sector) "
        "WHERE p.product_group = v.product_group AND p.classification = '1048'"
    )
