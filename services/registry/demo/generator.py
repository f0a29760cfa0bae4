"""The demo data set: Quảng Ninh's OCOP programme as published for 2017–2020, made deterministic.

The published breakdown it reproduces (Nông nghiệp Việt Nam, January 2021; OCOP-DOMAIN.md §8.2):
456 products — food 314, beverages 90, herbal 41, handicrafts 8, services 3 (our group ``tourism``)
— of which 236 rated 3–5★: 162 at 3★, 67 at 4★, 7 at 5★. The 38 real products of ``real.py`` come
first, with their real names, producers, stars and rounds (and the decisions documented there); the
other 418 products and their producers are fictional, drawn from ``product_templates.csv`` and
``names.py`` with a seeded random generator, so every run produces the same data.

How the figures map onto the registry (what the statistics test checks, province 22):

* **Products by group** (``/v1/stats/products?by=group``): exactly the breakdown above, 456 in all.
* **Rated products** are the 236 certified products with an active certificate
  (``certified_only=true``): by star exactly 162 / 67 / 7.
* **Rating year** (``by=year``) is the year of each product's *first* certificate. Every one of the
  236 was first rated in 2017–2020, spread to match the published cumulative counts (85 rated by
  2017, 196 by November 2019, 236 by 2020): 85 in 2017, 55 in 2018, 56 in 2019, 40 in 2020.
* **The other 220 products** are not rated: 40 ideas, 45 with a business plan, 60 being implemented,
  50 ready for evaluation and 25 lapsed (first rated in 2021–2022, after the report's period, and not
  re-evaluated within 36 months, so their certificate expired).
* **Producers**: 280 entities (66 enterprises, 110 cooperatives, 8 cooperative groups and 96
  household businesses, in the proportions Quảng Ninh reports), spread over all 54 post-2025
  communes, each with at least one product.

**Who rates them is scoring's.** The registry registers the entities and products only, every rated
or lapsed product left ``ready_for_evaluation`` as it stood before its first rating. What this
module decides about ratings is a *plan* (``DemoProduct.ratings``): each product's first rating (day,
star, level) and the real later ratings of ``real.py``, and whether the product was re-recognised
since (``renewed``; the 25 lapsed were not). The plan is scoring's data, committed as
``services/scoring/demo/ratings.csv`` (``python -m services.registry.commands.demo_ratings`` writes
it; a test keeps the two equal). Scoring's demo loader turns it into councils, rounds, results and
certificates — a re-recognition every 36 months up to the loading day, each decided at the level the
rules in force gave that star — and announces every certificate to the registry through the same
function as in production, so the catalogue shows what scoring decided.

Every demo tax code is ``99900`` followed by five digits (99 is no province prefix of a Vietnamese
tax code, and the tests draw theirs from 0…), and every demo GTIN starts with the GS1 Vietnam block
893999: the loader recognises an earlier load by the first demo tax code. People, phone numbers and
e-mail addresses (at example.com) of the fictional producers are invented; the real producers get
none (see ``real.py``).
"""

from __future__ import annotations

import csv
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from importlib import resources
from typing import Any

from services.registry.demo import names
from services.registry.demo.real import PRODUCERS, PRODUCTS, RealProduct
from services.registry.products import certificates
from services.registry.products.classification import classify
from services.registry.products.identifiers import gtin_check_digit

SEED = 2021
PROVINCE_CODE = "22"
TAX_CODE_PREFIX = "99900"
GS1_BLOCK = "893999"
CERTIFICATE_YEARS = 3

GROUP_COUNTS = {"food": 314, "beverages": 90, "herbal": 41, "handicrafts": 8, "tourism": 3}
STAR_COUNTS = {3: 162, 4: 67, 5: 7}
FIRST_RATING_YEARS = {2017: 85, 2018: 55, 2019: 56, 2020: 40}
UNRATED_STATUSES = {
    "idea": 40,
    "business_plan": 45,
    "implementing": 60,
    "ready_for_evaluation": 50,
    "lapsed": 25,
}
LAPSED_RATING_YEARS = (2021, 2022)
ENTITY_TYPE_COUNTS = {"enterprise": 66, "cooperative": 110, "cooperative_group": 8, "household_business": 96}
TOTAL_PRODUCTS = sum(GROUP_COUNTS.values())
RATED_PRODUCTS = sum(STAR_COUNTS.values())

DISTRICT_TYPES = {"Hạ Long": "thành phố", "Móng Cái": "thành phố", "Cẩm Phả": "thành phố",
                  "Uông Bí": "thành phố", "Đông Triều": "thành phố", "Quảng Yên": "thị xã"}  # fmt: skip
# More producers where more people live and trade; the islands have fewer.
DISTRICT_WEIGHTS = {"Hạ Long": 1.6, "Đông Triều": 1.3, "Quảng Yên": 1.2, "Cẩm Phả": 1.1, "Cô Tô": 0.6}
STORIES = (
    "Sản phẩm bắt nguồn từ nghề truyền thống của gia đình ở {commune}, được giữ gìn qua nhiều thế hệ "
    "và nâng cấp bao bì, nhãn mác khi tham gia Chương trình OCOP.",
    "Từ một cơ sở nhỏ, {producer} đã liên kết với các hộ dân trong vùng để có nguồn nguyên liệu ổn định, "
    "tạo việc làm cho lao động địa phương.",
    "Nguyên liệu được thu mua tại chỗ ở {district}; quy trình chế biến được chuẩn hóa, có truy xuất "
    "nguồn gốc bằng tem điện tử.",
)


@dataclass(frozen=True)
class Commune:
    """A post-2025 commune of Quảng Ninh and the pre-2025 district most of it came from."""

    code: str
    name: str
    unit_type: str
    district: str

    @property
    def district_unit(self) -> str:
        """The pre-2025 district-level unit, as its People's Committee was named ("thành phố Hạ Long")."""
        return f"{DISTRICT_TYPES.get(self.district, 'huyện')} {self.district}"


@dataclass(frozen=True)
class Template:
    """A kind of product made in some districts (``*``: anywhere)."""

    product_set: int
    group: str
    name: str
    districts: tuple[str, ...]
    weight: int
    description: str

    def made_in(self, district: str) -> bool:
        """Whether producers in ``district`` typically make it."""
        return "*" in self.districts or district in self.districts


@dataclass(frozen=True)
class PlannedRating:
    """A rating the plan gives a product: the day its certificate was issued, its star and the deciding level."""

    rated_on: date
    star: int
    level: str
    decision_number: str | None = None


def deciding_level(star: int, day: date) -> str:
    """The level that recognised a Quảng Ninh ``star`` on ``day`` (OCOP-DOMAIN.md §3).

    5★ is the ministry's; 3★ a district's while Decisions 781 (2020) and 148 (2023) let districts
    certify it, until 1489 abolished them (1 July 2025); every other 3–4★ the province's.
    """
    if star == 5:
        return "central"
    version = certificates.version_in_force(day)
    if star == 3 and version is not None and version.district_certifies_3_star:
        return "district"
    return "province"


@dataclass
class DemoEntity:
    """A producer of the demo, as registered."""

    key: str
    entity_type: str
    commune: Commune
    tax_code: str
    trade_name: str
    real: bool = False
    legal_name: str = ""
    representative_name: str = "(chưa cập nhật)"
    representative_gender: str | None = None
    representative_ethnicity: str | None = None
    address: str | None = None
    phone: str | None = None
    email: str | None = None
    business_registration_no: str | None = None
    business_registration_date: date | None = None
    business_registration_authority: str | None = None
    members_count: int | None = None
    local_workers_count: int | None = None
    raw_material_area_ha: Decimal | None = None
    certifications: list[str] = field(default_factory=list)
    gs1_company_prefix: str | None = None
    product_count: int = 0

    def registration(self) -> dict[str, Any]:
        """The EntityCreate fields."""
        return {
            "entity_type": self.entity_type, "legal_name": self.legal_name, "tax_code": self.tax_code,
            "business_registration_no": self.business_registration_no,
            "business_registration_date": self.business_registration_date,
            "business_registration_authority": self.business_registration_authority,
            "representative_name": self.representative_name, "representative_gender": self.representative_gender,
            "representative_ethnicity": self.representative_ethnicity, "address": self.address,
            "commune_code": self.commune.code, "phone": self.phone, "email": self.email,
            "members_count": self.members_count, "local_workers_count": self.local_workers_count,
            "raw_material_area_ha": self.raw_material_area_ha, "certifications": self.certifications,
            "gs1_company_prefix": self.gs1_company_prefix,
        }  # fmt: skip


@dataclass
class DemoProduct:
    """A product of the demo: its registration, and the ratings the plan gives it (scoring's data)."""

    entity: DemoEntity
    name: str
    product_set: int
    group: str
    initial_status: str
    description: str | None = None
    story: str | None = None
    gtin: str | None = None
    star: int | None = None
    first_rated_on: date | None = None
    ratings: list[PlannedRating] = field(default_factory=list)
    renewed: bool = True
    real: RealProduct | None = None

    def registration(self) -> dict[str, Any]:
        """The ProductCreate fields (without the entity id, known once the entity is registered)."""
        return {
            "name": self.name, "description": self.description, "story": self.story,
            "product_set": self.product_set, "classification": "148", "gtin": self.gtin,
            "status": self.initial_status,
        }  # fmt: skip


@dataclass
class DemoData:
    """Everything the demo loads, in loading order."""

    entities: list[DemoEntity]
    products: list[DemoProduct]


def add_years(day: date, years: int) -> date:
    """The same day ``years`` later (28 February for a 29 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def demo_tax_code(number: int) -> str:
    """The ``number``-th tax code of the reserved demo range."""
    return f"{TAX_CODE_PREFIX}{number:05d}"


MARKER_TAX_CODE = demo_tax_code(1)


def load_communes() -> list[Commune]:
    """The 54 post-2025 communes of Quảng Ninh, with their main pre-2025 district."""
    text = resources.files(__package__).joinpath("communes.csv").read_text(encoding="utf-8")
    return [
        Commune(r["code"], r["name"], r["type"], r["district"]) for r in csv.DictReader(text.splitlines())
    ]


def load_templates() -> list[Template]:
    """The kinds of product the fictional producers make."""
    text = resources.files(__package__).joinpath("product_templates.csv").read_text(encoding="utf-8")
    templates = []
    for row in csv.DictReader(text.splitlines()):
        product_set = int(row["product_set"])
        group, _ = classify(product_set, "148")
        districts = tuple(row["districts"].split(";"))
        templates.append(
            Template(product_set, group, row["name"], districts, int(row["weight"]), row["description"])
        )
    return templates


class _Generator:
    """One deterministic run of the generator."""

    def __init__(self, today: date, seed: int) -> None:
        self.today = today
        # Reproducible demo data, not secrets: a seeded PRNG is the point.
        self.rng = random.Random(seed)  # noqa: S311
        self.communes = load_communes()
        self.templates = load_templates()
        self.entities: list[DemoEntity] = []
        self.products: list[DemoProduct] = []
        self.product_names: set[str] = set()
        self.legal_names: set[str] = set()

    # Producers

    def _new_entity(self, entity_type: str, commune: Commune, trade_name: str, *, real: bool) -> DemoEntity:
        number = len(self.entities) + 1
        entity = DemoEntity(f"e{number}", entity_type, commune, demo_tax_code(number), trade_name, real=real)
        self.entities.append(entity)
        return entity

    def _real_producers(self) -> dict[str, DemoEntity]:
        by_code = {commune.code: commune for commune in self.communes}
        producers = {}
        for producer in PRODUCERS:
            commune = (
                by_code[producer.commune_code] if producer.commune_code else self.rng.choice(self.communes)
            )
            entity = self._new_entity(producer.entity_type, commune, producer.legal_name, real=True)
            entity.legal_name = producer.legal_name
            entity.address = f"{commune.unit_type.capitalize()} {commune.name}, tỉnh Quảng Ninh"
            self.legal_names.add(producer.legal_name)
            producers[producer.key] = entity
        return producers

    def _synthetic_producers(self) -> None:
        real_types = Counter(producer.entity_type for producer in PRODUCERS)
        types = [kind for kind, count in ENTITY_TYPE_COUNTS.items() for _ in range(count - real_types[kind])]
        self.rng.shuffle(types)
        # Every commune gets a producer first; the rest follow where more people live.
        communes = self.rng.sample(self.communes, len(self.communes))
        weights = [DISTRICT_WEIGHTS.get(commune.district, 1.0) for commune in self.communes]
        communes += self.rng.choices(self.communes, weights, k=len(types) - len(communes))
        trade_names = list(names.TRADE_NAMES)
        for entity_type, commune in zip(types, communes, strict=True):
            entity = self._new_entity(entity_type, commune, "", real=False)
            self._person(entity)
            if entity_type == "household_business":
                _, middle, given = entity.representative_name.rsplit(" ", 2)
                title = "Bà" if entity.representative_gender == "female" else "Ông"
                entity.trade_name = f"{title} {given}" if middle in ("Thị", "Văn") else f"{middle} {given}"
            else:
                entity.trade_name = trade_names.pop(self.rng.randrange(len(trade_names))) if trade_names else (
                    commune.name
                )  # fmt: skip
            self._contacts(entity)

    def _person(self, entity: DemoEntity) -> None:
        shares = names.ETHNICITY_BY_DISTRICT.get(entity.commune.district, {"Kinh": 1.0})
        ethnicity = self.rng.choices(list(shares), list(shares.values()))[0]
        gender = "female" if self.rng.random() < names.FEMALE_SHARE else "male"
        family = self.rng.choice(names.FAMILY_NAMES[ethnicity])
        middle = self.rng.choice(names.MIDDLE_NAMES[gender])
        given = self.rng.choice(names.GIVEN_NAMES[gender])
        entity.representative_name = f"{family} {middle} {given}"
        entity.representative_gender = gender
        entity.representative_ethnicity = ethnicity

    def _contacts(self, entity: DemoEntity) -> None:
        commune = entity.commune
        if commune.unit_type == "phường":
            street = self.rng.choice(names.STREETS)
            entity.address = f"Số {self.rng.randint(1, 480)} {street}, phường {commune.name}, tỉnh Quảng Ninh"
        else:
            village = self.rng.choice(names.VILLAGES)
            entity.address = f"{village}, {commune.unit_type} {commune.name}, tỉnh Quảng Ninh"
        if entity.entity_type == "enterprise" and self.rng.random() < 0.6:
            digits = f"{self.rng.randint(0, 9_999_999):07d}"
            entity.phone = f"{names.LANDLINE_PREFIX} {digits[:4]} {digits[4:]}"
        else:
            digits = f"{self.rng.randint(0, 9_999_999):07d}"
            entity.phone = f"{self.rng.choice(names.MOBILE_PREFIXES)}{digits[0]} {digits[1:4]} {digits[4:]}"
        district = commune.district
        registered = date(self.rng.randint(2006, 2019), self.rng.randint(1, 12), self.rng.randint(1, 28))
        district_office = names.AUTHORITY_DISTRICT.format(
            district=f"{DISTRICT_TYPES.get(district, 'huyện')} {district}"
        )
        if entity.entity_type == "enterprise":
            entity.business_registration_no = entity.tax_code
            entity.business_registration_authority = names.AUTHORITY_PROVINCE
        elif entity.entity_type == "cooperative":
            entity.business_registration_no = entity.tax_code
            entity.business_registration_authority = district_office
            entity.members_count = self.rng.randint(7, 60)
        elif entity.entity_type == "household_business":
            entity.business_registration_no = f"22H8{self.rng.randint(0, 999_999):06d}"
            entity.business_registration_authority = district_office
        else:
            entity.members_count = self.rng.randint(3, 15)
        if entity.business_registration_no:
            entity.business_registration_date = registered
        entity.local_workers_count = self.rng.randint(
            2, 12 if entity.entity_type == "household_business" else 80
        )

    # Products

    def _add_product(self, entity: DemoEntity, template: Template) -> DemoProduct:
        place = {"district": entity.commune.district, "commune": entity.commune.name}
        # "Chả mực Hạ Long" once; then "Chả mực Bãi Cháy", then with the producer's trade name.
        by_district = template.name.format(**place)
        by_commune = template.name.format(district=entity.commune.name, commune=entity.commune.name)
        candidates = [
            by_district,
            by_commune,
            f"{by_district} {entity.trade_name}",
            f"{by_commune} {entity.trade_name}",
        ]
        name = next((c for c in candidates if c not in self.product_names), None)
        serial = 2
        while name is None or name in self.product_names:
            name, serial = f"{by_commune} {entity.trade_name} {serial}", serial + 1
        self.product_names.add(name)
        product = DemoProduct(
            entity,
            name,
            template.product_set,
            template.group,
            "idea",
            description=template.description.format(**place),
        )
        self.products.append(product)
        entity.product_count += 1
        return product

    def _real_products(self, producers: dict[str, DemoEntity]) -> None:
        fictional = [entity for entity in self.entities if not entity.real]
        for real in PRODUCTS:
            if real.producer:
                entity = producers[real.producer]
            else:
                candidates = [e for e in fictional if real.commune_code in (None, e.commune.code)]
                entity = min(candidates, key=lambda e: (e.product_count, self.rng.random()))
            group, _ = classify(real.product_set, "148")
            product = DemoProduct(entity, real.name, real.product_set, group, "ready_for_evaluation",
                                  description=real.description, star=real.star, real=real)  # fmt: skip
            self.products.append(product)
            self.product_names.add(real.name)
            entity.product_count += 1

    def _pick_template(self, group: str, district: str | None) -> Template | None:
        fitting = [
            t for t in self.templates if t.group == group and (district is None or t.made_in(district))
        ]
        if not fitting:
            return None
        return self.rng.choices(fitting, [t.weight for t in fitting])[0]

    def _template(self, group: str, district: str | None) -> Template:
        template = self._pick_template(group, district)
        if template is None:
            raise LookupError(f"product_templates.csv has no {group} product made in {district}")
        return template

    def _synthetic_products(self) -> None:
        left = Counter(GROUP_COUNTS)
        left.subtract(Counter(product.group for product in self.products))
        # First every fictional producer gets one product it would plausibly make...
        for entity in self.entities:
            if entity.real or entity.product_count:
                continue
            groups = [g for g in left if left[g] > 0 and self._pick_template(g, entity.commune.district)]
            group = self.rng.choices(groups, [left[g] for g in groups])[0]
            self._add_product(entity, self._template(group, entity.commune.district))
            left[group] -= 1
        # ...then the rest of each group goes to the least busy producers where it is made.
        fictional = [entity for entity in self.entities if not entity.real]
        slots = [group for group, count in left.items() for _ in range(count)]
        self.rng.shuffle(slots)
        for group in slots:
            template = self._template(group, None)
            candidates = [e for e in fictional if template.made_in(e.commune.district)]
            entity = min(candidates, key=lambda e: (e.product_count, self.rng.random()))
            self._add_product(entity, template)

    # Ratings

    def _random_day(self, year: int) -> date:
        return date(year, self.rng.randint(1, 12), self.rng.randint(1, 28))

    def _plan(self, product: DemoProduct, first_rated_on: date, first_star: int) -> None:
        """The first rating, then the real later ratings (scoring renews the rest every 36 months)."""
        product.first_rated_on = first_rated_on
        product.ratings = [
            PlannedRating(first_rated_on, first_star, deciding_level(first_star, first_rated_on))
        ]
        if product.real is not None:
            product.ratings += [
                PlannedRating(rating.issued_on, rating.star, rating.level, rating.decision_number)
                for rating in product.real.ratings
            ]

    def _ratings(self) -> None:
        synthetic = [product for product in self.products if product.real is None]
        self.rng.shuffle(synthetic)
        real_stars = Counter(product.star for product in self.products if product.real)
        stars = [star for star, count in STAR_COUNTS.items() for _ in range(count - real_stars[star])]
        rated, unrated = synthetic[: len(stars)], synthetic[len(stars) :]
        for product, star in zip(rated, stars, strict=True):
            product.star, product.initial_status = star, "ready_for_evaluation"
        statuses = [status for status, count in UNRATED_STATUSES.items() for _ in range(count)]
        for product, status in zip(unrated, statuses, strict=True):
            product.initial_status = "ready_for_evaluation" if status == "lapsed" else status
            if status == "lapsed":
                self._lapse(product)

        years = Counter(FIRST_RATING_YEARS)
        years.subtract(Counter(real.first_rated_on.year for real in PRODUCTS if real.first_rated_on))
        pool = sorted(years.elements())
        self.rng.shuffle(pool)
        for product in self.products:
            if product.star is None:
                continue
            real = product.real
            if real is None:
                self._plan(product, self._random_day(pool.pop()), product.star)
            else:
                first_rated_on = real.first_rated_on or self._random_day(pool.pop())
                self._plan(product, first_rated_on, real.first_star or real.star)

    def _lapse(self, product: DemoProduct) -> None:
        star = 3 if self.rng.random() < 0.8 else 4
        self._plan(product, self._random_day(self.rng.choice(LAPSED_RATING_YEARS)), star)
        product.renewed = False
        if add_years(product.ratings[0].rated_on, CERTIFICATE_YEARS) >= self.today:
            raise ValueError(f"a lapsed certificate must have run out before {self.today}")

    # Finishing touches

    def _legal_names(self) -> None:
        for entity in self.entities:
            if entity.real:
                continue
            main_group = Counter(p.group for p in self.products if p.entity is entity).most_common(1)[0][0]
            if entity.entity_type == "household_business":
                candidates = [f"Hộ kinh doanh {entity.representative_name}"]
            else:
                activities = names.ACTIVITIES[entity.entity_type][main_group]
                activity = self.rng.choice(activities)
                if entity.entity_type == "enterprise":
                    form = self.rng.choice(names.COMPANY_FORMS)
                    candidates = [f"{form} {activity} {entity.trade_name}", f"{form} {entity.trade_name}"]
                elif entity.entity_type == "cooperative":
                    candidates = [f"Hợp tác xã {activity} {entity.commune.name}",
                                  f"Hợp tác xã {activity} {entity.trade_name}"]  # fmt: skip
                else:
                    village = self.rng.choice(names.VILLAGES).replace("Thôn", "thôn")
                    candidates = [f"Tổ hợp tác {activity} {village} {entity.commune.name}"]
            candidates.append(f"{candidates[0]} {entity.commune.name}")
            entity.legal_name = next(
                (c for c in candidates if c not in self.legal_names), f"{candidates[0]} {entity.key}"
            )
            self.legal_names.add(entity.legal_name)
            if entity.entity_type != "household_business" and self.rng.random() < 0.7:
                entity.email = f"lienhe.{entity.tax_code[-5:]}@example.com"
            if main_group in ("food", "beverages", "herbal") and self.rng.random() < 0.5:
                entity.raw_material_area_ha = Decimal(self.rng.randint(5, 5000)) / 100
                entity.certifications = self.rng.sample(
                    ["VietGAP", "HACCP", "ISO 22000", "Hữu cơ"], self.rng.randint(0, 2)
                )

    def _gtins_and_stories(self) -> None:
        item_numbers: Counter[str] = Counter()
        for product in self.products:
            if product.real or product.star is None:
                continue
            entity = product.entity
            if self.rng.random() < 0.6 and item_numbers[entity.key] < 99:
                entity.gs1_company_prefix = f"{GS1_BLOCK}{int(entity.key[1:]):04d}"
                item_numbers[entity.key] += 1
                body = f"{entity.gs1_company_prefix}{item_numbers[entity.key]:02d}"
                product.gtin = f"{body}{gtin_check_digit(body)}"
            if product.star >= 4 and self.rng.random() < 0.5:
                story = self.rng.choice(STORIES)
                product.story = story.format(commune=entity.commune.name, producer=entity.legal_name,
                                             district=entity.commune.district)  # fmt: skip

    def run(self) -> DemoData:
        producers = self._real_producers()
        self._synthetic_producers()
        self._real_products(producers)
        self._synthetic_products()
        self._ratings()
        self._legal_names()
        self._gtins_and_stories()
        return DemoData(self.entities, self.products)


def generate(today: date, seed: int = SEED) -> DemoData:
    """The demo data set as of ``today`` (the same every time for the same day)."""
    data = _Generator(today, seed).run()
    groups = Counter(product.group for product in data.products)
    rated = Counter(p.star for p in data.products if p.ratings and p.renewed)
    if (
        groups != Counter(GROUP_COUNTS)
        or rated != Counter(STAR_COUNTS)
        or len(data.products) != TOTAL_PRODUCTS
    ):
        raise AssertionError(f"the demo no longer matches the published breakdown: {groups}, {rated}")
    return data
