"""What is printed for one stamp: its serial, grouped for people, and its Digital Link URI."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from shared import gs1


class StampLike(Protocol):
    """A stamp as the caller read it: its serial and its lot (the batch's, or the one bound at activation)."""

    @property
    def serial(self) -> str: ...

    @property
    def lot(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class PrintStamp:
    """A stamp to print, for callers that hold plain values (a row, a test)."""

    serial: str
    lot: str | None = None


@dataclass(frozen=True, slots=True)
class Label:
    """One stamp's printed texts."""

    serial: str
    grouped: str
    uri: str
    lot: str | None


def label(stamp: StampLike, *, gtin: str, host: str) -> Label:
    """The label of ``stamp``: checked against GS1 syntax (InvalidIdentifier otherwise), URI upper case."""
    link = gs1.digital_link(gtin, stamp.serial, stamp.lot)
    return Label(serial=link.serial, grouped=gs1.grouped(link.serial), uri=link.uri(host), lot=link.lot)


async def labels(stamps: AsyncIterable[StampLike], *, gtin: str, host: str) -> AsyncIterator[Label]:
    """The labels of ``stamps``, one at a time."""
    async for stamp in stamps:
        yield label(stamp, gtin=gtin, host=host)


def short_domain(host: str) -> str:
    """The resolver's domain as printed for people under the code: lower case, no scheme."""
    return host.lower()
