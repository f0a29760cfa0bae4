"""The sheet rules on drafted nodes (pure), the generic sheets against them, and reading workbooks."""

from __future__ import annotations

import io
from decimal import Decimal

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.scoring.criteria.arithmetic import score_card
from services.scoring.criteria.generic_sheets import (
    ELIMINATING,
    MANDATORY_FOR_3_STAR,
    SUB_CRITERIA,
    generic_nodes,
)
from services.scoring.criteria.validation import (
    NodeDraft,
    OptionDraft,
    check_nodes,
    checksum,
    in_tree_order,
    tree_of,
)
from services.scoring.criteria.versions import VERSIONS
from services.scoring.criteria.workbook import read_sheet
from shared.files import HostileFile

PROPERTY = settings(database=None, deadline=None, max_examples=200)


@pytest.mark.parametrize("code", list(VERSIONS))
def test_the_generic_sheets_pass_the_rules_every_import_passes(code: str) -> None:
    nodes = generic_nodes(code)
    assert check_nodes(VERSIONS[code], nodes, where="generic") == []
    assert in_tree_order(nodes) == nodes, "shipped depth first"
    assert checksum(code, None, nodes) == checksum(code, None, generic_nodes(code)), "deterministic"
    leaves = [node for node in nodes if node.options]
    assert all(len(leaf.options) >= 2 for leaf in leaves)
    assert all(max(o.points for o in leaf.options) == leaf.max_points for leaf in leaves)
    assert all(leaf.title and all(o.label for o in leaf.options) for leaf in leaves)


def test_generic_sheets_differ_where_the_decisions_differ() -> None:
    titles = {code: {node.title for node in generic_nodes(code)} for code in VERSIONS}
    intellectual_property = SUB_CRITERIA["intellectual_property"][0]
    assert intellectual_property in titles["148"]
    assert intellectual_property not in titles["1048"], "148 added intellectual property"
    assert {
        SUB_CRITERIA[key][0] for key in ("quality_declaration", "quality_assurance", "user_manual")
    } <= titles["26/2026"]
    assert checksum("1048", None, generic_nodes("1048")) != checksum(
        "1048+781", None, generic_nodes("1048+781")
    )
    flagged = {node.code for node in generic_nodes("148") if node.mandatory_for_3_star or node.eliminating}
    assert flagged == {"A.1.5", "A.2.3", "A.3.1", "C.2.1", "C.2.2"}
    keys = {key for key, (title, _) in SUB_CRITERIA.items() if title in titles["148"]}
    assert keys & MANDATORY_FOR_3_STAR == {"environment", "labelling", "standard_declaration"}
    assert keys & ELIMINATING == {"business_registration", "food_safety"}


def _leaf(code: str, parent: str, maximum: str, *points: str) -> NodeDraft:
    options = [
        OptionDraft(chr(97 + index), f"option {index}", Decimal(p), f"{code}.{index}")
        for index, p in enumerate(points)
    ]
    return NodeDraft(code, parent, code, Decimal(maximum), code, options=options)


def _sheet(*a_leaves: NodeDraft) -> list[NodeDraft]:
    """A 148 sheet: A made of ``a_leaves`` (under A.1), B and C each one leaf at full maximum."""
    return [
        NodeDraft("A", None, "A", Decimal(40), "A"),
        NodeDraft("A.1", "A", "A.1", Decimal(40), "A.1"),
        *a_leaves,
        NodeDraft("B", None, "B", Decimal(25), "B"),
        _leaf("B.1", "B", "25", "0", "25"),
        NodeDraft("C", None, "C", Decimal(35), "C"),
        _leaf("C.1", "C", "35", "0", "35"),
    ]


def test_a_minimal_sheet_is_valid_and_scores() -> None:
    nodes = _sheet(_leaf("A.1.1", "A.1", "40", "0", "20", "40"))
    assert check_nodes(VERSIONS["148"], nodes, where="x") == []
    tree = tree_of(in_tree_order(nodes))
    assert score_card(tree, {"A.1.1": "b", "B.1": "b", "C.1": "a"}).total == Decimal(45)


def test_the_parts_must_be_the_versions_own() -> None:
    nodes = _sheet(_leaf("A.1.1", "A.1", "40", "0", "40"))
    errors = check_nodes(VERSIONS["1048"], nodes, where="sheet")  # 1048: A 35, C 40
    assert {(e["field"], e["message"].split(" is worth ")[0]) for e in errors if "worth" in e["message"]} == {
        ("A.max_points", "part A"), ("C.max_points", "part C"),
    }  # fmt: skip
    extra = [*nodes, NodeDraft("D", None, "D", Decimal(1), "D")]
    assert any(e["field"] == "D.code" for e in check_nodes(VERSIONS["148"], extra, where="sheet"))


def test_an_orphan_and_a_miscoded_child_are_named() -> None:
    nodes = _sheet(_leaf("A.1.1", "A.1", "40", "0", "40"), _leaf("A.7.1", "A.7", "1", "0", "1"),
                   _leaf("B.2", "A.1", "1", "0", "1"))  # fmt: skip
    fields = {e["field"]: e["type"] for e in check_nodes(VERSIONS["148"], nodes, where="sheet")}
    assert fields["A.7.1.parent"] == "orphan"
    assert "B.2.code" in fields


@PROPERTY
@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                ["A", "B", "C", "D", "A.1", "A.1.1", "A.1.2", "B.1", "C.1", "C.1.1", "a", "A..1", ""]
            ),
            st.sampled_from([None, "A", "A.1", "B", "C", "C.1", "Z"]),
            st.decimals(allow_nan=True, allow_infinity=True)
            | st.sampled_from([Decimal(x) for x in (0, 1, 25, 35, 40)]),
            st.booleans(),
            st.lists(
                st.tuples(
                    st.sampled_from(["a", "b", "", "c!"]),
                    st.decimals(allow_nan=True, allow_infinity=True)
                    | st.sampled_from([Decimal(0), Decimal(1)]),
                ),
                max_size=4,
            ),
        ),
        max_size=12,
    )
)
def test_any_drafted_nodes_are_checked_without_an_exception(nodes: list[tuple]) -> None:  # type: ignore[type-arg]
    drafts = [
        NodeDraft(code, parent, "t", maximum, f"n{index}", mandatory_for_3_star=flag,
                  options=[OptionDraft(c, "o", p, f"n{index}.o{j}") for j, (c, p) in enumerate(options)])
        for index, (code, parent, maximum, flag, options) in enumerate(nodes)
    ]  # fmt: skip
    errors = check_nodes(VERSIONS["148"], drafts, where="sheet")
    assert all({"field", "message", "type"} <= set(error) for error in errors)
    if not errors:  # a sheet the rules accept always scores 100 at best
        tree = tree_of(in_tree_order(drafts))
        assert score_card(tree, tree.best_choices()).total == Decimal(100)


# Workbooks


def _workbook(rows: list[list[object]]) -> io.BytesIO:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    buffer.seek(0)
    return buffer


def test_cells_are_read_as_people_type_them() -> None:
    read = read_sheet(_workbook([
        [" Kind ", "CODE", "Parent", "Title", "Max points", "points", "Eliminating"],
        ["node", "A", None, "Phần A", 40],
        ["Node", "A.1", "A", "Tiêu chí", "40"],
        ["option", 1, "A.1", "Không", None, 0],
        ["OPTION", 2.0, "A.1", "Có", None, "40,0"],
        [None, None, None],
        ["node", "B", "", "Phần B", 25, None, True],
    ]))  # fmt: skip
    assert read.errors == []
    assert [(n.code, n.parent, n.max_points, n.eliminating) for n in read.nodes] == [
        ("A", None, Decimal(40), False), ("A.1", "A", Decimal(40), False), ("B", None, Decimal(25), True),
    ]  # fmt: skip
    assert [(o.code, o.points, o.where) for o in read.nodes[1].options] == [
        ("1", Decimal(0), "file.rows.4"), ("2", Decimal("40.0"), "file.rows.5"),
    ]  # fmt: skip


def test_a_file_that_is_no_workbook_is_refused_before_parsing() -> None:
    with pytest.raises(HostileFile):
        read_sheet(io.BytesIO(b"kind,code\nnode,A\n"))
