"""Throughput of the stamps' printing outputs: PDF label sheets, CSV, ZIP with SVGs (``python -m bench.print_outputs``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable

from services.stamps.printing import exports, sheets
from tests.stamps.test_printing import HOST, Source


async def drain(chunks: AsyncIterable[bytes]) -> int:
    """The bytes ``chunks`` yield."""
    return sum([len(chunk) async for chunk in chunks])


async def main() -> None:
    """Time each output on generated stamps."""
    start = time.perf_counter()
    size = await drain(sheets.pdf_chunks(Source(700).labels(), domain=HOST))
    took = time.perf_counter() - start
    print(f"pdf: 700 labels (20 pages) {took:.2f}s {700 / took:.0f} labels/s {size / 20 / 1024:.0f} KiB/page")
    start = time.perf_counter()
    size = await drain(exports.csv_chunks(Source(200_000).labels()))
    took = time.perf_counter() - start
    print(f"csv: 200000 stamps {took:.2f}s {200_000 / took:.0f} rows/s {size / 1e6:.1f} MB")
    start = time.perf_counter()
    size = await drain(exports.zip_chunks(Source(1000).labels(), svgs=True))
    took = time.perf_counter() - start
    print(f"zip with svgs: 1000 stamps {took:.2f}s {1000 / took:.0f} stamps/s {size / 1e6:.2f} MB")


if __name__ == "__main__":
    asyncio.run(main())
