"""The events the scoring service consumes, and the service function each one calls."""

from __future__ import annotations

from services.scoring.db import inbox
from shared.events.inbox import Handler, Inbox

HANDLERS: dict[str, Handler] = {}

INBOX = Inbox(inbox, HANDLERS)
