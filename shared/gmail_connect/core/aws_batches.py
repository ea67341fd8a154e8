"""Batch calls to AWS that may refuse some entries and accept the rest (SendMessageBatch,
PutEvents, BatchGetItem's UnprocessedKeys).

The one mechanism for them: send, then re-send only the entries refused for a reason worth
another try, with capped, jittered exponential backoff (0.1, 0.2, 0.4 s...), a bounded number
of times. Google calls have their own policy (`gmail.retry`): deadlines and `Retry-After`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from gmail_connect.core.observability import logger

E = TypeVar("E")
ATTEMPTS = 4


@dataclass(frozen=True)
class Refused(Generic[E]):
    entry: E
    code: str
    retryable: bool


def send_all(
    entries: Sequence[E],
    send: Callable[[list[E]], list[Refused[E]]],
    *,
    what: str,
    attempts: int = ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Refused[E]]:
    """Send `entries` with `send` (which returns the refused ones); what stayed refused in the end."""
    pending = list(entries)
    given_up: list[Refused[E]] = []
    refused: list[Refused[E]] = []
    for attempt in range(attempts):
        refused = send(pending)
        if not refused:
            return given_up
        given_up += [r for r in refused if not r.retryable]
        pending = [r.entry for r in refused if r.retryable]
        logger.warning(
            f"{what} refused some entries",
            extra={
                "failed": len(refused),
                "retrying": len(pending) if attempt + 1 < attempts else 0,
                "error_codes": sorted({r.code for r in refused}),
                "attempt": attempt + 1,
            },
        )
        if not pending:
            return given_up
        if attempt + 1 < attempts:
            sleep(random.uniform(0, min(1.0, 0.1 * 2**attempt)))  # noqa: S311 - jitter, not crypto
    return given_up + [r for r in refused if r.retryable]
