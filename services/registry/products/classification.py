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

The data itself lives in ``shared/reference/ocop_classification.json``, the one source the scoring
service's product sets are loaded from too; this module builds the registry's objects from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, cast

from shared.reference import ocop_classification

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


def _version(code: str, data: dict[str, Any]) -> Version:
    """A version as the reference file gives it."""
    groups = {
        key: Group(group["name"], group["sector"], tuple(group["sets"]))
        for key, group in data["groups"].items()
    }
    return Version(cast(Classification, code), data["legal_ref"], dict(data["sectors"]), groups)


_REFERENCE = ocop_classification()
PRODUCT_SETS = {
    int(number): ProductSet(int(number), name) for number, name in _REFERENCE["product_sets"].items()
}
_VERSIONS = {code: _version(code, data) for code, data in _REFERENCE["versions"].items()}
V148, V2026, V1048 = _VERSIONS["148"], _VERSIONS["26/2026"], _VERSIONS["1048"]

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
