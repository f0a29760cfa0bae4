"""What makes a score sheet valid, checked on a flat list of drafted nodes (pure; every fault at once).

Both imports (a JSON tree, an XLSX file of one row per node or option) and the shipped generic sheets
become the same ``NodeDraft`` list and pass the same checks:

- the top-level nodes are exactly the version's parts (A, B, C), each worth the version's part maximum
  (so the parts add up to 100);
- codes are unique and a child's code is its parent's code and one more segment (A → A.1 → A.1.2); a
  node whose parent is not in the sheet is an orphan;
- a node with children has no options and its children's maxima add up to its own;
- a leaf has at least two options, each worth 0 to the leaf's maximum, one of them the maximum, with
  codes unique within the leaf;
- a node flagged mandatory for 3★ or eliminating can be failed: every leaf under it offers 0 points.

Each fault names its field as the input gave it (``where``): ``body.nodes.0.children.1.max_points`` for
JSON, ``file.rows.7.points`` for a workbook.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from services.scoring.criteria.arithmetic import Node, Option, SheetTree
from services.scoring.criteria.versions import CriteriaVersion

NODE_CODE = re.compile(r"[A-Z](\.[0-9A-Za-z]{1,10}){0,5}")
OPTION_CODE = re.compile(r"[0-9A-Za-z]{1,10}")
MAX_NODES = 1000
MAX_OPTIONS = 20
CENT = Decimal("0.01")


@dataclass
class OptionDraft:
    """An option as imported; ``where`` names it in error messages."""

    code: str
    label: str
    points: Decimal
    where: str


@dataclass
class NodeDraft:
    """A node as imported, with its parent's code (None for a part); ``where`` names it in error messages."""

    code: str
    parent: str | None
    title: str
    max_points: Decimal
    where: str
    mandatory_for_3_star: bool = False
    eliminating: bool = False
    options: list[OptionDraft] = field(default_factory=list)


def _error(where: str, message: str, kind: str = "invalid") -> dict[str, Any]:
    return {"field": where, "message": message, "type": kind}


def _points_valid(value: Decimal) -> bool:
    """Finite, within ±1000 (so quantizing cannot overflow) and in cents."""
    return value.is_finite() and -1000 < value < 1000 and value == value.quantize(CENT)


def _safe(value: Decimal) -> Decimal:
    """The value for arithmetic and comparisons: an invalid one (reported on its own) counts as 0, so
    nothing overflows and no NaN raises."""
    return value if _points_valid(value) else Decimal(0)


def check_nodes(version: CriteriaVersion, nodes: Sequence[NodeDraft], *, where: str) -> list[dict[str, Any]]:
    """Every fault of ``nodes`` as a sheet of ``version`` (empty: the sheet is valid); ``where`` names the whole."""
    if not nodes:
        return [_error(where, "a sheet has nodes: the parts A, B and C at least", "missing")]
    if len(nodes) > MAX_NODES:
        return [_error(where, f"a sheet has at most {MAX_NODES} nodes, not {len(nodes)}", "too_long")]
    errors: list[dict[str, Any]] = []
    by_code: dict[str, NodeDraft] = {}
    for node in nodes:
        if not NODE_CODE.fullmatch(node.code):
            errors.append(_error(f"{node.where}.code", "a code is a part letter and up to five numbered "
                                 "segments, such as A, A.1 or A.1.2", "pattern"))  # fmt: skip
        elif node.code in by_code:
            errors.append(_error(f"{node.where}.code", f"{node.code} appears twice", "duplicate"))
        else:
            by_code[node.code] = node
        if not (_points_valid(node.max_points) and Decimal(0) < node.max_points <= Decimal(100)):
            errors.append(
                _error(f"{node.where}.max_points", "a maximum lies in (0, 100] with at most two decimals")
            )
    children: dict[str | None, list[NodeDraft]] = {}
    for node in by_code.values():
        if node.parent is None:
            if node.code not in version.part_maxima:
                errors.append(_error(f"{node.where}.code", f"the parts of {version.code} are "
                                     f"{', '.join(version.part_maxima)}; {node.code} is not one of them"))  # fmt: skip
                continue
        elif node.parent not in by_code:
            errors.append(_error(f"{node.where}.parent", f"{node.code}'s parent {node.parent} is not a node of "
                                 "the sheet", "orphan"))  # fmt: skip
            continue
        elif node.code.rpartition(".")[0] != node.parent:
            errors.append(_error(f"{node.where}.code", f"a child of {node.parent} is coded {node.parent}.<n>, "
                                 f"not {node.code}"))  # fmt: skip
            continue
        children.setdefault(node.parent, []).append(node)
    present = {node.code for node in children.get(None, [])}
    errors.extend(
        _error(where, f"part {part} is missing", "missing")
        for part in version.part_maxima
        if part not in present
    )
    for part in children.get(None, []):
        wanted = Decimal(version.part_maxima[part.code])
        if _safe(part.max_points) != wanted:
            errors.append(_error(f"{part.where}.max_points", f"part {part.code} is worth {wanted} under "
                                 f"{version.code}, not {part.max_points}"))  # fmt: skip
    for node in by_code.values():
        kids = children.get(node.code)
        if kids:
            errors.extend(_check_inner(node, kids))
        else:
            errors.extend(_check_leaf(node))
    errors.extend(_check_flags(by_code, children))
    return errors


def _check_inner(node: NodeDraft, kids: list[NodeDraft]) -> list[dict[str, Any]]:
    errors = []
    if node.options:
        errors.append(
            _error(f"{node.where}.options", f"{node.code} has sub-criteria, so no options of its own")
        )
    total = sum((_safe(kid.max_points) for kid in kids), Decimal(0))
    if total != _safe(node.max_points):
        errors.append(_error(f"{node.where}.max_points", f"the sub-criteria of {node.code} add up to {total}, "
                             f"not its maximum {node.max_points}", "sum_mismatch"))  # fmt: skip
    return errors


def _check_leaf(node: NodeDraft) -> list[dict[str, Any]]:
    errors = []
    if len(node.options) < 2:
        errors.append(_error(f"{node.where}.options", f"{node.code} needs at least two options to choose from",
                             "too_short"))  # fmt: skip
    if len(node.options) > MAX_OPTIONS:
        errors.append(_error(f"{node.where}.options", f"{node.code} has more than {MAX_OPTIONS} options",
                             "too_long"))  # fmt: skip
    seen: set[str] = set()
    maximum = node.max_points if _points_valid(node.max_points) else Decimal(0)
    for option in node.options:
        if not OPTION_CODE.fullmatch(option.code):
            errors.append(
                _error(f"{option.where}.code", "an option code is 1–10 letters or digits", "pattern")
            )
        elif option.code in seen:
            errors.append(_error(f"{option.where}.code", f"option {option.code} of {node.code} appears twice",
                                 "duplicate"))  # fmt: skip
        seen.add(option.code)
        if not (_points_valid(option.points) and Decimal(0) <= option.points <= maximum):
            errors.append(_error(f"{option.where}.points", f"an option of {node.code} is worth 0 to "
                                 f"{node.max_points} points (two decimals at most), not {option.points}"))  # fmt: skip
    if maximum and len(node.options) >= 2 and all(_safe(option.points) != maximum for option in node.options):
        errors.append(_error(f"{node.where}.options", f"no option of {node.code} reaches its maximum "
                             f"{node.max_points}", "max_unreachable"))  # fmt: skip
    return errors


def _check_flags(
    by_code: dict[str, NodeDraft], children: dict[str | None, list[NodeDraft]]
) -> list[dict[str, Any]]:
    def leaves(node: NodeDraft) -> list[NodeDraft]:
        kids = children.get(node.code)
        return [leaf for kid in kids for leaf in leaves(kid)] if kids else [node]

    errors = []
    for node in by_code.values():
        for flag in ("mandatory_for_3_star", "eliminating"):
            if not getattr(node, flag):
                continue
            unfailable = [
                leaf.code for leaf in leaves(node) if all(_safe(o.points) != 0 for o in leaf.options)
            ]
            if unfailable:
                errors.append(_error(f"{node.where}.{flag}", f"a flagged criterion fails when it scores 0, but "
                                     f"{', '.join(unfailable)} offers no 0-point option"))  # fmt: skip
    return errors


def in_tree_order(nodes: Sequence[NodeDraft]) -> list[NodeDraft]:
    """Valid nodes depth first, parents before children, siblings in the order given."""
    children: dict[str | None, list[NodeDraft]] = {}
    for node in nodes:
        children.setdefault(node.parent, []).append(node)

    def walk(parent: str | None) -> list[NodeDraft]:
        return [each for node in children.get(parent, []) for each in (node, *walk(node.code))]

    return walk(None)


def checksum(criteria_version: str, product_set: int | None, nodes: Sequence[NodeDraft]) -> str:
    """SHA-256 of the sheet's content (not of where it came from): equal sheets have equal checksums."""
    content = {
        "criteria_version": criteria_version,
        "product_set": product_set,
        "nodes": [
            [node.code, node.parent, node.title, f"{node.max_points:.2f}", node.mandatory_for_3_star,
             node.eliminating, [[o.code, o.label, f"{o.points:.2f}"] for o in node.options]]
            for node in nodes
        ],
    }  # fmt: skip
    encoded = json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()


def tree_of(nodes: Sequence[NodeDraft], *, criteria_version: str | None = None,
            product_set: int | None = None) -> SheetTree:  # fmt: skip
    """The tree of valid drafted nodes."""
    return SheetTree(
        tuple(
            Node(
                code=node.code,
                part=node.code[0],
                parent=node.parent,
                title=node.title,
                max_points=node.max_points,
                mandatory_for_3_star=node.mandatory_for_3_star,
                eliminating=node.eliminating,
                options=tuple(Option(o.code, o.label, o.points) for o in node.options),
            )
            for node in nodes
        ),
        criteria_version=criteria_version,
        product_set=product_set,
    )
