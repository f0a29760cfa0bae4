"""The generic score sheet shipped for each criteria version (one for all 26 product sets), as data.

The official per-set sheets (Annex III of 1048/148, Annex II of 26/2026) are not published in a
machine-readable form, so every database starts with one generic sheet per version, and provinces
import the official ones (``POST /v1/score-sheets``). The generic sheets follow the structure the
decisions name (OCOP-DOMAIN.md §2.1): part → criterion → sub-criterion → options, with the part maxima
of the version and the sub-groups of each part —

- A *Sản phẩm và sức mạnh cộng đồng*: tổ chức sản xuất, phát triển sản phẩm, sức mạnh cộng đồng;
- B *Khả năng tiếp thị*: tiếp thị, câu chuyện về sản phẩm;
- C *Chất lượng sản phẩm*: chỉ tiêu cảm quan, dinh dưỡng, tính độc đáo; tiêu chuẩn sản phẩm (under
  26/2026: công bố chất lượng, đảm bảo chất lượng, hướng dẫn sử dụng); khả năng xuất khẩu.

148 adds intellectual property, user manuals and the points for an entity headed by a woman or an
ethnic-minority person; 1048 has neither. The sub-criteria and their options are ours, not the law's.
Flags: environmental protection, labelling and the quality declaration are mandatory for 3★; no
business registration and failing food safety / quality assurance eliminate the dossier.

Options are listed from worst to best; their points are spread evenly from 0 to the sub-criterion's
maximum in half points, so the best option is always worth the maximum and a flagged one can score 0.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from services.scoring.criteria.validation import NodeDraft, OptionDraft

# A sub-criterion: its title and its options' labels, worst first.
SubCriterion = tuple[str, tuple[str, ...]]

SUB_CRITERIA: dict[str, SubCriterion] = {
    "raw_material": ("Nguồn nguyên liệu", (
        "Nguyên liệu chủ yếu từ ngoài tỉnh",
        "Một phần nguyên liệu từ địa phương (dưới 50%)",
        "Phần lớn nguyên liệu từ địa phương (từ 50% trở lên)",
        "Toàn bộ nguyên liệu từ địa phương, vùng nguyên liệu được chứng nhận",
    )),
    "local_labour": ("Sử dụng lao động địa phương", (
        "Dưới 30% lao động là người địa phương",
        "Từ 30% đến dưới 50% lao động là người địa phương",
        "Từ 50% lao động trở lên là người địa phương",
    )),
    "linkage": ("Liên kết sản xuất", (
        "Không có liên kết",
        "Có liên kết nhưng chưa có hợp đồng",
        "Có hợp đồng liên kết ổn định với người sản xuất nguyên liệu",
    )),
    "technology": ("Công nghệ, thiết bị sản xuất", (
        "Thủ công, chưa cải tiến",
        "Có cải tiến hoặc áp dụng một phần thiết bị",
        "Áp dụng công nghệ, thiết bị phù hợp, hiện đại",
    )),
    "environment": ("Bảo vệ môi trường trong quá trình sản xuất", (
        "Chưa có cam kết, kế hoạch bảo vệ môi trường",
        "Có cam kết bảo vệ môi trường",
        "Có cam kết và xử lý chất thải đạt yêu cầu",
    )),
    "idea_origin": ("Nguồn gốc ý tưởng sản phẩm", (
        "Sao chép, mô phỏng sản phẩm khác",
        "Có cải tiến so với sản phẩm đã có",
        "Ý tưởng xuất phát từ địa phương, có tính sáng tạo",
    )),
    "packaging": ("Bao bì sản phẩm", (
        "Bao bì đơn giản, chưa phù hợp",
        "Bao bì phù hợp nhưng chưa có thiết kế riêng",
        "Bao bì có thiết kế riêng, đảm bảo chất lượng và thẩm mỹ",
    )),
    "labelling": ("Nhãn hàng hóa và truy xuất nguồn gốc", (
        "Chưa có nhãn đúng quy định",
        "Nhãn đúng quy định, chưa truy xuất được nguồn gốc",
        "Nhãn đúng quy định và truy xuất được nguồn gốc",
    )),
    "intellectual_property": ("Sở hữu trí tuệ (nhãn hiệu)", (
        "Chưa nộp đơn đăng ký nhãn hiệu",
        "Đã nộp đơn đăng ký nhãn hiệu",
        "Đã được cấp giấy chứng nhận đăng ký nhãn hiệu",
    )),
    "business_registration": ("Đăng ký kinh doanh của chủ thể", (
        "Không có đăng ký kinh doanh",
        "Có đăng ký kinh doanh",
    )),
    "management": ("Năng lực quản lý, điều hành", (
        "Chưa có bộ máy quản lý",
        "Có bộ máy quản lý nhưng chưa hiệu quả",
        "Bộ máy quản lý phù hợp, hoạt động hiệu quả",
    )),
    "accounting": ("Quản lý tài chính, kế toán", (
        "Không có sổ sách kế toán",
        "Có sổ sách kế toán đơn giản",
        "Có hệ thống kế toán đúng quy định",
    )),
    "inclusion": ("Chủ thể do phụ nữ hoặc người dân tộc thiểu số làm chủ, điều hành", (
        "Không",
        "Có",
    )),
    "community_benefit": ("Chia sẻ lợi ích với cộng đồng", (
        "Chưa có hoạt động chia sẻ lợi ích",
        "Có tạo việc làm, thu nhập cho cộng đồng",
        "Tạo việc làm ổn định và đóng góp cho cộng đồng",
    )),
    "distribution": ("Kênh phân phối", (
        "Chỉ bán tại nơi sản xuất",
        "Có điểm bán trong tỉnh",
        "Có hệ thống phân phối trong và ngoài tỉnh",
    )),
    "promotion": ("Quảng bá sản phẩm", (
        "Chưa có hoạt động quảng bá",
        "Quảng bá trên một kênh",
        "Quảng bá trên nhiều kênh, kể cả thương mại điện tử",
    )),
    "market_plan": ("Kế hoạch phát triển thị trường", (
        "Chưa có kế hoạch",
        "Có kế hoạch nhưng chưa thực hiện",
        "Có kế hoạch và thực hiện hiệu quả",
    )),
    "story_content": ("Nội dung câu chuyện sản phẩm", (
        "Chưa có câu chuyện",
        "Có câu chuyện nhưng chưa thể hiện giá trị của sản phẩm",
        "Câu chuyện thể hiện rõ giá trị văn hóa, lịch sử của sản phẩm",
    )),
    "story_presentation": ("Hình thức thể hiện câu chuyện", (
        "Chưa có tài liệu",
        "Có tài liệu giới thiệu đơn giản",
        "Có tài liệu, ấn phẩm, video chuyên nghiệp",
    )),
    "sensory": ("Chỉ tiêu cảm quan", (
        "Không có sự khác biệt",
        "Có sự khác biệt nhưng chưa nổi bật",
        "Khác biệt, nổi bật, đặc trưng",
    )),
    "nutrition": ("Giá trị dinh dưỡng", (
        "Không xác định",
        "Có thông tin giá trị dinh dưỡng",
        "Có kết quả phân tích, giá trị dinh dưỡng cao",
    )),
    "uniqueness": ("Tính độc đáo", (
        "Bình thường",
        "Có tính độc đáo",
        "Độc đáo, mang đặc trưng vùng miền",
    )),
    "standard_declaration": ("Công bố tiêu chuẩn, chất lượng sản phẩm", (
        "Chưa công bố",
        "Đã công bố tiêu chuẩn cơ sở",
        "Đã công bố và có kết quả kiểm nghiệm định kỳ",
    )),
    "food_safety": ("Điều kiện an toàn thực phẩm, an toàn sản phẩm", (
        "Không đáp ứng",
        "Có giấy chứng nhận hoặc cam kết theo quy định",
        "Có chứng nhận hệ thống quản lý an toàn (HACCP, ISO 22000…)",
    )),
    "quality_declaration": ("Công bố chất lượng sản phẩm", (
        "Chưa công bố",
        "Đã tự công bố chất lượng",
        "Đã công bố và có kết quả kiểm nghiệm định kỳ",
    )),
    "quality_assurance": ("Đảm bảo chất lượng", (
        "Không đáp ứng điều kiện bảo đảm chất lượng, an toàn",
        "Đáp ứng điều kiện theo quy định",
        "Có chứng nhận hệ thống quản lý chất lượng",
    )),
    "user_manual": ("Hướng dẫn sử dụng sản phẩm", (
        "Không có",
        "Có hướng dẫn trên nhãn",
        "Có tài liệu hướng dẫn sử dụng đầy đủ",
    )),
    "export": ("Khả năng xuất khẩu, phân phối tại thị trường quốc tế", (
        "Chưa xuất khẩu",
        "Đã có đơn hàng xuất khẩu thử",
        "Xuất khẩu ổn định",
    )),
}  # fmt: skip

MANDATORY_FOR_3_STAR = frozenset({"environment", "labelling", "standard_declaration", "quality_declaration"})
ELIMINATING = frozenset({"business_registration", "food_safety", "quality_assurance"})

PART_TITLES = {"A": "Sản phẩm và sức mạnh cộng đồng", "B": "Khả năng tiếp thị", "C": "Chất lượng sản phẩm"}
# A layout: per part, its criteria (title, sub-criteria with their maxima), in order.
Layout = dict[str, tuple[tuple[str, tuple[tuple[str, int], ...]], ...]]

MARKETING = (
    ("Tiếp thị", (("distribution", 5), ("promotion", 5), ("market_plan", 5))),
    ("Câu chuyện về sản phẩm", (("story_content", 5), ("story_presentation", 5))),
)
LAYOUT_1048: Layout = {
    "A": (
        ("Tổ chức sản xuất", (("raw_material", 4), ("local_labour", 2), ("linkage", 2), ("technology", 2),
                              ("environment", 2))),
        ("Phát triển sản phẩm", (("idea_origin", 3), ("packaging", 5), ("labelling", 5))),
        ("Sức mạnh cộng đồng", (("business_registration", 2), ("management", 3), ("accounting", 3),
                                ("community_benefit", 2))),
    ),
    "B": MARKETING,
    "C": (
        ("Chỉ tiêu cảm quan, dinh dưỡng, tính độc đáo", (("sensory", 8), ("nutrition", 6), ("uniqueness", 6))),
        ("Tiêu chuẩn sản phẩm", (("standard_declaration", 7), ("food_safety", 8))),
        ("Khả năng xuất khẩu, phân phối tại thị trường quốc tế", (("export", 5),)),
    ),
}  # fmt: skip
PART_A_148 = (
    ("Tổ chức sản xuất", (("raw_material", 5), ("local_labour", 3), ("linkage", 3), ("technology", 2),
                          ("environment", 2))),
    ("Phát triển sản phẩm", (("idea_origin", 3), ("packaging", 4), ("labelling", 4),
                             ("intellectual_property", 4))),
    ("Sức mạnh cộng đồng", (("business_registration", 2), ("management", 3), ("accounting", 3),
                            ("inclusion", 2))),
)  # fmt: skip
LAYOUT_148: Layout = {
    "A": PART_A_148,
    "B": MARKETING,
    "C": (
        ("Chỉ tiêu cảm quan, dinh dưỡng, tính độc đáo", (("sensory", 5), ("nutrition", 5), ("uniqueness", 5))),
        ("Tiêu chuẩn sản phẩm", (("standard_declaration", 6), ("food_safety", 6), ("user_manual", 3))),
        ("Khả năng xuất khẩu, phân phối tại thị trường quốc tế", (("export", 5),)),
    ),
}  # fmt: skip
LAYOUT_2026: Layout = {
    "A": PART_A_148,
    "B": MARKETING,
    "C": (
        ("Chỉ tiêu cảm quan, dinh dưỡng, tính độc đáo", (("sensory", 4), ("nutrition", 4), ("uniqueness", 4))),
        ("Tiêu chuẩn sản phẩm", (("quality_declaration", 6), ("quality_assurance", 8), ("user_manual", 4))),
        ("Khả năng xuất khẩu, phân phối tại thị trường quốc tế", (("export", 5),)),
    ),
}  # fmt: skip
LAYOUTS: dict[str, Layout] = {
    "1048": LAYOUT_1048, "1048+781": LAYOUT_1048, "148": LAYOUT_148, "148+1489": LAYOUT_148,
    "26/2026": LAYOUT_2026,
}  # fmt: skip
OPTION_CODES = "abcdefghij"
HALF = Decimal("0.5")


def option_points(maximum: int, count: int) -> list[Decimal]:
    """``count`` points from 0 to ``maximum``, evenly spread and rounded to half points."""
    top = Decimal(maximum)
    steps = [top * index / (count - 1) for index in range(count)]
    return [(step / HALF).quantize(Decimal(1), rounding=ROUND_HALF_UP) * HALF for step in steps]


def _criterion_maximum(subs: tuple[tuple[str, int], ...]) -> Decimal:
    return Decimal(sum(maximum for _, maximum in subs))


def generic_nodes(criteria_version: str) -> list[NodeDraft]:
    """The generic sheet of a version as drafted nodes, depth first (the same every time)."""
    nodes: list[NodeDraft] = []
    for part, criteria in LAYOUTS[criteria_version].items():
        where = f"generic[{criteria_version}]"
        part_max = sum((_criterion_maximum(subs) for _, subs in criteria), Decimal(0))
        nodes.append(NodeDraft(part, None, PART_TITLES[part], part_max, f"{where}.{part}"))
        for number, (title, subs) in enumerate(criteria, start=1):
            code = f"{part}.{number}"
            nodes.append(NodeDraft(code, part, title, _criterion_maximum(subs), f"{where}.{code}"))
            for sub_number, (key, maximum) in enumerate(subs, start=1):
                sub_code = f"{code}.{sub_number}"
                sub_title, labels = SUB_CRITERIA[key]
                options = [
                    OptionDraft(OPTION_CODES[index], label, points, f"{where}.{sub_code}.{OPTION_CODES[index]}")
                    for index, (label, points) in enumerate(zip(labels, option_points(maximum, len(labels)), strict=True))
                ]  # fmt: skip
                nodes.append(NodeDraft(
                    sub_code, code, sub_title, Decimal(maximum), f"{where}.{sub_code}",
                    mandatory_for_3_star=key in MANDATORY_FOR_3_STAR, eliminating=key in ELIMINATING,
                    options=options,
                ))  # fmt: skip
    return nodes
