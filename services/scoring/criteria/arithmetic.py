"""Scoring one card against a sheet: pure arithmetic on a sheet's tree, no database.

A sheet is a tree: part (A/B/C) → criterion → sub-criterion …; each leaf offers options worth fixed
points and a scorer picks one per leaf. A node's score is the sum of its children's scores capped at
the node's ``max_points`` (a leaf's is its option's points, capped the same way), a part's score is its
node's, the total is the sum of the parts. A node flagged ``mandatory_for_3_star`` or ``eliminating``
is *failed* when it scores 0 points (nothing of it is met): the card then names it in
``mandatory_failed`` (the product cannot be rated 3★ or more) or ``eliminated`` (the dossier is out).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

from services.scoring.criteria.errors import InvalidChoices

__all__ = ["CardScore", "InvalidChoices", "Node", "Option", "SheetTree", "score_card"]

ZERO = Decimal(0)


@dataclass(frozen=True)
class Option:
    """One answer a scorer may tick on a leaf criterion."""

    code: str
    label: str
    points: Decimal


@dataclass(frozen=True)
class Node:
    """A part, criterion or sub-criterion; a leaf has options, any other node has children."""

    code: str
    part: str
    parent: str | None
    title: str
    max_points: Decimal
    mandatory_for_3_star: bool = False
    eliminating: bool = False
    options: tuple[Option, ...] = ()


@dataclass(frozen=True)
class SheetTree:
    """A sheet's nodes (parents before children, siblings in order) and, when stored, which sheet it is."""

    nodes: tuple[Node, ...]
    sheet_id: uuid.UUID | None = None
    criteria_version: str | None = None
    product_set: int | None = None

    @cached_property
    def by_code(self) -> dict[str, Node]:
        """Every node by its code."""
        return {node.code: node for node in self.nodes}

    @cached_property
    def children(self) -> dict[str | None, tuple[Node, ...]]:
        """Each node's children in order (``None``: the parts)."""
        found: dict[str | None, list[Node]] = {}
        for node in self.nodes:
            found.setdefault(node.parent, []).append(node)
        return {parent: tuple(nodes) for parent, nodes in found.items()}

    @cached_property
    def leaves(self) -> tuple[Node, ...]:
        """The criteria a scorer answers: the nodes without children."""
        return tuple(node for node in self.nodes if node.code not in self.children)

    @property
    def parts(self) -> tuple[Node, ...]:
        """The top-level nodes (A, B, C)."""
        return self.children.get(None, ())

    def best_choices(self) -> dict[str, str]:
        """The highest-scoring option of every leaf (the first of equals)."""
        return {leaf.code: max(leaf.options, key=lambda option: option.points).code for leaf in self.leaves}


@dataclass(frozen=True)
class CardScore:
    """One card's scores: per part, the total, every node's score, and the flagged nodes it failed."""

    parts: dict[str, Decimal]
    total: Decimal
    mandatory_failed: tuple[str, ...]
    eliminated: tuple[str, ...]
    nodes: dict[str, Decimal] = field(default_factory=dict)


def _choice_errors(tree: SheetTree, choices: Mapping[str, str], prefix: str) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    leaves = {leaf.code: leaf for leaf in tree.leaves}
    for code, option in choices.items():
        where = f"{prefix}.{code}"
        leaf = leaves.get(code)
        if leaf is None:
            if code in tree.by_code:
                message, kind = f"{code} has sub-criteria: choose an option of each of them", "not_a_leaf"
            else:
                message, kind = f"{code} is not a criterion of this sheet", "unknown_criterion"
            errors.append({"field": where, "message": message, "type": kind})
        elif option not in {known.code for known in leaf.options}:
            offered = ", ".join(known.code for known in leaf.options)
            errors.append(
                {"field": where, "message": f"{option!r} is not an option of {code} ({offered})",
                 "type": "unknown_option"}
            )  # fmt: skip
    errors.extend(
        {"field": f"{prefix}.{code}", "message": f"choose an option for {code}", "type": "missing_choice"}
        for code in leaves
        if code not in choices
    )
    return errors


def score_card(
    tree: SheetTree, choices: Mapping[str, str], *, field_prefix: str = "body.choices"
) -> CardScore:
    """The scores of one card choosing ``choices`` (leaf code → option code) on ``tree``.

    All or nothing: an unknown criterion, an option the leaf does not offer, or a leaf left without a
    choice raise ``InvalidChoices`` naming every such field (``field_prefix`` + "." + criterion code).
    """
    errors = _choice_errors(tree, choices, field_prefix)
    if errors:
        raise InvalidChoices(errors)
    scores: dict[str, Decimal] = {}

    def score(node: Node) -> Decimal:
        children = tree.children.get(node.code)
        if children:
            earned = sum((score(child) for child in children), ZERO)
        else:
            chosen = choices[node.code]
            earned = next(option.points for option in node.options if option.code == chosen)
        scores[node.code] = min(max(earned, ZERO), node.max_points)
        return scores[node.code]

    parts = {part.code: score(part) for part in tree.parts}
    flagged_zero = [node for node in tree.nodes if scores.get(node.code) == ZERO]
    return CardScore(
        parts=parts,
        total=sum(parts.values(), ZERO),
        mandatory_failed=tuple(node.code for node in flagged_zero if node.mandatory_for_3_star),
        eliminated=tuple(node.code for node in flagged_zero if node.eliminating),
        nodes=scores,
    )
