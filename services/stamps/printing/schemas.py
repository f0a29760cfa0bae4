"""Query parameters of the print files: the label sheet's layout (each bounded; unset keeps the library's A4 default)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from shared.schemas import BaseSchema

Millimetres = Annotated[float | None, Field(gt=0, le=1000)]
Spacing = Annotated[float | None, Field(ge=0, le=500)]
Points = Annotated[float | None, Field(gt=0, le=72)]


class SheetLayout(BaseSchema):
    """A label sheet's geometry in millimetres and text sizes in points (unset: A4, 5 × 7 labels of 38 × 40 mm)."""

    page_width: Millimetres = None
    page_height: Millimetres = None
    columns: Annotated[int | None, Field(ge=1, le=20)] = None
    rows: Annotated[int | None, Field(ge=1, le=40)] = None
    label_width: Millimetres = None
    label_height: Millimetres = None
    margin_left: Spacing = None
    margin_top: Spacing = None
    gap_x: Spacing = None
    gap_y: Spacing = None
    qr_size: Annotated[
        float | None,
        Field(ge=10, le=500, description="The code with its quiet zone, mm (≥ 10: 0.25 mm modules)"),
    ] = None
    padding: Millimetres = None
    serial_size: Points = None
    domain_size: Points = None
    caption_size: Points = None
    caption: Annotated[bool, Field(description="Print the caption line (Tem OCOP · Quét mã để xác thực)")] = (
        True
    )

    def settings(self) -> dict[str, float | int | str]:
        """The values given, as keyword arguments of ``sheets.Layout`` (an empty caption leaves it out)."""
        given: dict[str, float | int | str] = {
            name: value for name, value in self.model_dump(exclude={"caption"}).items() if value is not None
        }
        if not self.caption:
            given["caption"] = ""
        return given
