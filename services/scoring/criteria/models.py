"""Criteria tables: the versions and their product sets (reference data), score sheets with their nodes and options.

A sheet's nodes and options are written once, with the sheet, and never changed: a changed sheet is
a new sheet with the next ``sheet_version``. ``used`` marks a sheet an application has pinned.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    UniqueConstraint,
    false,
)  # fmt: skip
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.scoring.db import Base
from shared.models import CreatedAt, UUIDPrimaryKey

SHEET_SOURCES = ("generic", "imported")
SHEET_STATUSES = ("draft", "published")


class CriteriaVersionRow(CreatedAt, Base):
    """A criteria version (its rules are data in versions.py; this row anchors what refers to it)."""

    __tablename__ = "criteria_version"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    slug: Mapped[str] = mapped_column(String(20), unique=True)
    legal_ref: Mapped[str] = mapped_column(String(200))
    in_force_from: Mapped[date] = mapped_column(Date)
    classification: Mapped[str] = mapped_column(String(10))


class ProductSet(Base):
    """One of a version's 26 product sets with its group and sector (from the classification file)."""

    __tablename__ = "product_set"
    __table_args__ = (CheckConstraint("number BETWEEN 1 AND 26", name="number_range"),)

    criteria_version: Mapped[str] = mapped_column(ForeignKey("criteria_version.code"), primary_key=True)
    number: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    group_key: Mapped[str] = mapped_column(String(40))
    group_name: Mapped[str] = mapped_column(String(200))
    sector_key: Mapped[str] = mapped_column(String(40))
    sector_name: Mapped[str] = mapped_column(String(200))


class ScoreSheet(UUIDPrimaryKey, CreatedAt, Base):
    """A score sheet of a version, for one product set or (product_set null) for all of them."""

    __tablename__ = "score_sheet"
    __table_args__ = (
        ForeignKeyConstraint(
            ["criteria_version", "product_set"], ["product_set.criteria_version", "product_set.number"]
        ),
        # One numbering per version and set; the generic sheets (no set) have theirs.
        UniqueConstraint(
            "criteria_version", "product_set", "sheet_version", postgresql_nulls_not_distinct=True
        ),
        CheckConstraint(f"source IN {SHEET_SOURCES}", name="source"),
        CheckConstraint(f"status IN {SHEET_STATUSES}", name="status"),
        CheckConstraint("sheet_version >= 1", name="sheet_version_positive"),
        # Only imports have an importer (and a province, when a province officer imported them).
        CheckConstraint(
            "source = 'imported' OR (imported_by IS NULL AND province_code IS NULL)", name="generic_unowned"
        ),
        # A draft is never pinned.
        CheckConstraint("status = 'published' OR NOT used", name="used_is_published"),
        Index("ix_score_sheet_lookup", "criteria_version", "product_set", "status"),
    )

    criteria_version: Mapped[str] = mapped_column(ForeignKey("criteria_version.code"))
    product_set: Mapped[int | None] = mapped_column(SmallInteger)
    sheet_version: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10))
    used: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    imported_by: Mapped[str | None] = mapped_column(String(200))
    province_code: Mapped[str | None] = mapped_column(String(2))
    checksum: Mapped[str] = mapped_column(String(64))


class SheetNode(UUIDPrimaryKey, Base):
    """A part, criterion or sub-criterion of a sheet; ``position`` is its place in the sheet, depth first."""

    __tablename__ = "sheet_node"
    __table_args__ = (
        UniqueConstraint("sheet_id", "code"),
        CheckConstraint("part IN ('A', 'B', 'C')", name="part"),
        CheckConstraint("max_points > 0 AND max_points <= 100", name="max_points_range"),
        Index("ix_sheet_node_parent_id", "parent_id"),
    )

    sheet_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("score_sheet.id", ondelete="CASCADE")
    )
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("sheet_node.id", ondelete="CASCADE")
    )
    code: Mapped[str] = mapped_column(String(40))
    part: Mapped[str] = mapped_column(String(1))
    title: Mapped[str] = mapped_column(String(500))
    max_points: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    mandatory_for_3_star: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    eliminating: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    position: Mapped[int] = mapped_column(Integer)


class SheetOption(UUIDPrimaryKey, Base):
    """An option of a leaf criterion and the points it is worth."""

    __tablename__ = "sheet_option"
    __table_args__ = (
        UniqueConstraint("node_id", "code"),
        CheckConstraint("points >= 0 AND points <= 100", name="points_range"),
    )

    node_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("sheet_node.id", ondelete="CASCADE")
    )
    code: Mapped[str] = mapped_column(String(10))
    label: Mapped[str] = mapped_column(String(500))
    points: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    position: Mapped[int] = mapped_column(Integer)
