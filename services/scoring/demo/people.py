"""The demo's councils and their members: invented people, in the composition the rules describe.

A provincial council (OCOP-DOMAIN.md §3.1): a vice-chair of the Provincial People's Committee chairs
it; leaders of the departments concerned (agriculture, industry and trade, science and technology,
health, culture and tourism) score; the provincial OCOP coordination office keeps the record as its
secretary. The central council is the ministry's; each district's (history: 3★ under 781 and 148) is
chaired by a vice-chair of its People's Committee, with the heads of its economic, agricultural and
health offices, and a secretary. Every person here is invented; their principal subjects
(``council_member`` tokens' ``sub``) are their folded names prefixed by the council's key.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from services.scoring.councils.schemas import MemberCreate
from shared.text import fold

SEED = 2021

# Role, full name (the comment is the post the rules give that seat).
PROVINCE = (
    ("chair", "Trần Minh Đức"),  # Phó Chủ tịch UBND tỉnh
    ("member", "Nguyễn Thị Thu Hằng"),  # Sở Nông nghiệp và Môi trường
    ("member", "Phạm Văn Khải"),  # Sở Công Thương
    ("member", "Lê Thị Ngọc Lan"),  # Sở Khoa học và Công nghệ
    ("member", "Hoàng Đức Thịnh"),  # Sở Y tế
    ("member", "Vũ Thị Mai Phương"),  # Sở Văn hóa, Thể thao và Du lịch
    ("secretary", "Đặng Quốc Huy"),  # Văn phòng Điều phối nông thôn mới tỉnh
)
CENTRAL = (
    ("chair", "Bùi Quang Trung"),  # Thứ trưởng, chủ tịch hội đồng
    ("member", "Đỗ Thị Thanh Hương"),  # Văn phòng Điều phối nông thôn mới Trung ương
    ("member", "Ngô Văn Sơn"),  # Cục Chất lượng, Chế biến và Phát triển thị trường
    ("member", "Dương Thị Huyền"),  # Bộ Công Thương
    ("member", "Lý Minh Tuấn"),  # Bộ Khoa học và Công nghệ
    ("member", "Phan Thị Yến"),  # chuyên gia
    ("secretary", "Tạ Văn Cường"),  # Văn phòng Điều phối nông thôn mới Trung ương
)
FAMILY = (
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Vũ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Ngô",
    "Dương",
    "Lý",
    "Hà",
    "Nông",
)
MIDDLE = {"male": ("Văn", "Đức", "Minh", "Quốc", "Hữu", "Thanh"), "female": ("Thị", "Thu", "Ngọc", "Thanh")}
GIVEN = {
    "male": ("Hùng", "Dũng", "Thắng", "Tuấn", "Hải", "Long", "Sơn", "Quang", "Cường", "Trung", "Toàn", "Nam"),
    "female": ("Hằng", "Lan", "Hương", "Mai", "Thảo", "Nga", "Huyền", "Yến", "Dung", "Phương", "Hà", "Liên"),
}
# A district council: a vice-chair of the district's People's Committee, the heads of its economic
# (or agriculture), finance-planning and health offices, and the secretary from the economic office.
DISTRICT_ROLES = ("chair", "member", "member", "member", "secretary")


def members(key: str, seats: Sequence[tuple[str, str]]) -> list[MemberCreate]:
    """The members of a council, with subjects made of ``key`` and their folded names."""
    return [
        MemberCreate(sub=f"{key}-{fold(name).replace(' ', '-')}", full_name=name, role=role)
        for role, name in seats
    ]


def district_seats(district: str) -> list[tuple[str, str]]:
    """Invented people for a district's council (the same for the same district)."""
    # Reproducible demo people, not secrets: a seeded PRNG is the point.
    rng = random.Random(f"{SEED}:{district}")  # noqa: S311
    seats, names = [], set()
    for role in DISTRICT_ROLES:
        while True:
            gender = rng.choice(("male", "female"))
            name = f"{rng.choice(FAMILY)} {rng.choice(MIDDLE[gender])} {rng.choice(GIVEN[gender])}"
            if name not in names:
                break
        names.add(name)
        seats.append((role, name))
    return seats
