"""Request and response bodies of /v1/counterfeit-reports."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import UploadFile
from pydantic import Field, field_validator

from shared.schemas import BaseSchema, ReadSchema

ReportKind = Literal["suspected_fake", "stamp_damaged", "product_mismatch", "expired", "other"]
ReportStatus = Literal["open", "resolved"]
DESCRIPTION_MAX = 2000


class ReportCreate(BaseSchema):
    """What a consumer reports: a multipart form of these fields and an optional ``photo`` file."""

    token: Annotated[
        str | None, Field(max_length=64, description="The scan token of the page the report is sent from")
    ] = None
    serial: Annotated[
        str | None, Field(max_length=40, description="The stamp's serial as printed (without a scan token)")
    ] = None
    kind: ReportKind
    description: Annotated[str, Field(min_length=1, max_length=DESCRIPTION_MAX, description="What is wrong")]
    shop_name: Annotated[str | None, Field(max_length=200, description="Where it was bought")] = None
    shop_address: Annotated[str | None, Field(max_length=500)] = None

    photo: Annotated[UploadFile | None, Field(description="JPEG, PNG or WebP, at most 5 MiB")] = None

    @field_validator("token", "serial", "shop_name", "shop_address", mode="after")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        """A form's empty field is a field not given."""
        return value or None


class ReportReceipt(ReadSchema):
    """What the consumer is told once the report is stored."""

    id: uuid.UUID
    serial: str
    kind: ReportKind
    status: ReportStatus
    created_at: datetime


class ReportRead(ReadSchema):
    """A consumer's report as officers and the producer see it."""

    id: uuid.UUID
    serial: str
    scan_id: int | None
    scanned_at: datetime | None
    kind: ReportKind
    description: str
    shop_name: str | None
    shop_address: str | None
    photo_type: str | None
    photo_url: str | None = None
    batch_id: uuid.UUID | None
    product_id: uuid.UUID | None
    entity_id: uuid.UUID | None
    province_code: str | None
    status: ReportStatus
    resolved_by: str | None
    resolved_at: datetime | None
    resolution_note: str | None
    created_at: datetime

    @classmethod
    def of(cls, report: Any) -> ReportRead:
        """The read body of ``report``, with the address of its photo when it has one."""
        read = cls.model_validate(report)
        if read.photo_type is not None:
            read.photo_url = f"/v1/counterfeit-reports/{read.id}/photo"
        return read


class ReportResolve(BaseSchema):
    """An officer's conclusion on a report."""

    note: Annotated[str, Field(min_length=3, max_length=2000, description="What was found and done")]


@dataclass(frozen=True)
class ReportFilter:
    """What a listing of reports is narrowed to."""

    status: str | None = None
    province_code: str | None = None
    serial: str | None = None
