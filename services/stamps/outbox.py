"""The stamps service's outbox: every event it emits is written here, in the transaction of its change."""

from __future__ import annotations

from services.stamps.db import outbox
from shared.events.outbox import Outbox

OUTBOX = Outbox(outbox, source="stamps")
