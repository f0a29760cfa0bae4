"""Name parts for the demo's fictional producers: people, trade names, villages and streets.

Family names follow the ethnic groups of Quảng Ninh (Kinh, Tày, Dao, Sán Dìu, Sán Chỉ); the share of
each group per pre-2025 district follows where those communities live (the mountain districts of
Bình Liêu, Ba Chẽ, Tiên Yên, Đầm Hà and Hải Hà, and the former Hoành Bồ part of Hạ Long).
"""

from __future__ import annotations

FAMILY_NAMES: dict[str, tuple[str, ...]] = {
    "Kinh": (
        "Nguyễn", "Nguyễn", "Nguyễn", "Trần", "Trần", "Lê", "Lê", "Phạm", "Phạm", "Hoàng", "Vũ", "Vũ",
        "Phan", "Đặng", "Bùi", "Bùi", "Đỗ", "Ngô", "Dương", "Đinh", "Lương", "Hà", "Trịnh", "Đào", "Mai",
        "Cao", "Tạ", "Đoàn", "Lưu", "Phùng",
    ),
    "Tày": ("Hoàng", "Nông", "Lục", "Vi", "Lương", "Hà", "Hứa", "Lộc", "Chu"),
    "Dao": ("Triệu", "Bàn", "Đặng", "Lý", "Chìu", "Phùng", "Trương"),
    "Sán Dìu": ("Lý", "Dương", "Trần", "Diệp", "Tăng", "Lam"),
    "Sán Chỉ": ("Voòng", "Tằng", "Chíu", "Sằm", "Lỷ", "Hoàng"),
}  # fmt: skip

MIDDLE_NAMES = {
    "male": ("Văn", "Văn", "Văn", "Đức", "Minh", "Quang", "Hữu", "Xuân", "Thanh", "Công", "Tiến", "Ngọc"),
    "female": ("Thị", "Thị", "Thị", "Thu", "Thanh", "Ngọc", "Minh", "Phương", "Hồng", "Kim"),
}
GIVEN_NAMES = {
    "male": (
        "Hùng", "Dũng", "Tuấn", "Hải", "Long", "Thắng", "Cường", "Sơn", "Phúc", "Nam", "Quân", "Bình",
        "Tùng", "Thành", "Khánh", "Toản", "Hưng", "Tài", "Quý", "Lâm", "Kiên", "Đạt", "Trung", "Vinh",
    ),
    "female": (
        "Lan", "Hương", "Hoa", "Mai", "Hằng", "Nga", "Thủy", "Phương", "Linh", "Huyền", "Yến", "Hạnh",
        "Thảo", "Dung", "Loan", "Liên", "Nhung", "Hiền", "Ngân", "Vân", "Thoa", "Xuân",
    ),
}  # fmt: skip
FEMALE_SHARE = 0.45

# Share of each ethnic group among producers, by pre-2025 district; Kinh everywhere else.
ETHNICITY_BY_DISTRICT: dict[str, dict[str, float]] = {
    "Bình Liêu": {"Tày": 0.45, "Dao": 0.25, "Sán Chỉ": 0.15, "Kinh": 0.15},
    "Ba Chẽ": {"Dao": 0.35, "Tày": 0.2, "Sán Chỉ": 0.15, "Kinh": 0.3},
    "Tiên Yên": {"Kinh": 0.5, "Tày": 0.2, "Dao": 0.2, "Sán Dìu": 0.1},
    "Đầm Hà": {"Kinh": 0.6, "Dao": 0.2, "Sán Dìu": 0.2},
    "Hải Hà": {"Kinh": 0.7, "Dao": 0.15, "Sán Dìu": 0.15},
    "Hạ Long": {"Kinh": 0.9, "Dao": 0.05, "Sán Dìu": 0.05},
    "Đông Triều": {"Kinh": 0.92, "Sán Dìu": 0.04, "Dao": 0.04},
}

# Trade names (tên thương mại) that companies, cooperatives and brands are built from.
TRADE_NAMES = (
    "Hương Biển", "Phú Hải", "Minh Anh", "Thành Đạt", "Hải Long", "An Phát", "Ngọc Lan", "Bảo Ngọc",
    "Phương Nam", "Quang Minh", "Hoàng Gia", "Tân Phát", "Hải Đăng", "Việt Hưng", "Thiên Phúc", "Hồng Hà",
    "Kim Ngân", "Sao Biển", "Vạn Xuân", "Đông Bắc", "Trường Sơn", "Hạ Long Xanh", "Bình Minh", "Đại Dương",
    "Hưng Thịnh", "Phúc Lộc", "Thanh Bình", "An Khang", "Lộc Phát", "Hồng Phúc", "Tâm Đức", "Nhật Minh",
    "Song Hà", "Mỹ Lộc", "Bắc Hải", "Hải Vân", "Trà My", "Ngọc Hà", "Gia Bảo", "Thuận Phát", "Hoa Sen",
    "Khánh An", "Vĩnh Phúc", "Tùng Lâm", "Mai Linh", "Cát Tường", "Phú Gia", "Kim Long", "Trúc Lâm",
    "Hải Hà Xanh", "Sông Chanh", "Yên Hưng", "Bạch Đằng", "Vân Long", "Quảng Đông", "Thái Hòa",
)  # fmt: skip

VILLAGES = (
    "Thôn 1", "Thôn 2", "Thôn 3", "Thôn 4", "Thôn 5", "Thôn 6", "Thôn Đồng Tâm", "Thôn Khe Lục",
    "Thôn Nà Làng", "Thôn Bản Chuông", "Thôn Làng Dạ", "Thôn Khe Tù", "Thôn Pắc Cáy", "Thôn Đồng Giữa",
    "Thôn Xóm Mới", "Thôn Tân Hợp", "Thôn Cái Mắm", "Thôn Bắc Xa", "Thôn Nà Choòng", "Thôn Tầu Tiên",
)  # fmt: skip
STREETS = (
    "đường Trần Hưng Đạo", "đường Lê Thánh Tông", "đường Nguyễn Văn Cừ", "đường Hạ Long", "phố Cao Thắng",
    "đường Lê Lợi", "đường Quang Trung", "đường Bạch Đằng", "đường Trần Phú", "đường Lý Thường Kiệt",
    "đường Hùng Vương", "đường Nguyễn Du", "phố Hải Thịnh", "đường 25/4", "đường Vườn Đào",
)  # fmt: skip

# What a producer's legal name says it does, by the group of its main product.
ACTIVITIES = {
    "enterprise": {
        "food": ("Thực phẩm", "Thủy sản", "Nông sản", "Sản xuất và Thương mại", "Chế biến Thực phẩm"),
        "beverages": ("Đồ uống", "Sản xuất và Thương mại", "Thương mại và Dịch vụ"),
        "herbal": ("Dược liệu", "Nông lâm sản", "Sản xuất và Thương mại"),
        "handicrafts": ("Mỹ nghệ", "Thương mại và Dịch vụ"),
        "tourism": ("Du lịch", "Du lịch và Dịch vụ"),
    },
    "cooperative": {
        "food": ("Nông nghiệp", "Dịch vụ Nông nghiệp", "Thủy sản", "Sản xuất Kinh doanh Dịch vụ Tổng hợp"),
        "beverages": ("Nông nghiệp", "Sản xuất Kinh doanh Dịch vụ Tổng hợp", "Dịch vụ Tổng hợp"),
        "herbal": ("Dược liệu", "Nông lâm nghiệp", "Lâm sản"),
        "handicrafts": ("Thủ công Mỹ nghệ", "Dịch vụ Tổng hợp"),
        "tourism": ("Du lịch Cộng đồng", "Dịch vụ Du lịch"),
    },
    "cooperative_group": {
        "food": ("sản xuất nông nghiệp", "nuôi trồng thủy sản", "chế biến nông sản"),
        "beverages": ("sản xuất rượu truyền thống", "chế biến nông sản"),
        "herbal": ("trồng và chế biến dược liệu",),
        "handicrafts": ("thêu thổ cẩm", "đan lát"),
        "tourism": ("du lịch cộng đồng",),
    },
}
COMPANY_FORMS = ("Công ty TNHH", "Công ty TNHH", "Công ty CP", "Công ty TNHH MTV")
AUTHORITY_PROVINCE = "Sở Kế hoạch và Đầu tư tỉnh Quảng Ninh"
AUTHORITY_DISTRICT = "Phòng Tài chính - Kế hoạch {district}"
MOBILE_PREFIXES = ("091", "094", "098", "097", "096", "088", "086", "083", "035", "036", "039")
LANDLINE_PREFIX = "0203"
