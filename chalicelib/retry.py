"""Retrying transient failures with capped exponential backoff and full jitter."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from chalicelib.errors import ExportServiceError

logger = logging.getLogger(__name__)
T = TypeVar("T")
MAX_RETRY_AFTER_SECONDS = 30.0


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int
    base_seconds: float
    max_seconds: float

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based): jittered, capped."""
        ceiling = min(self.max_seconds, self.base_seconds * 2 ** (attempt - 1))
        return float(ceiling * (0.5 + rng() / 2))


def run_with_retries(
    operation: Callable[[int], T],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``operation(attempt)`` until it succeeds, a permanent error, or the last attempt."""
    for attempt in range(1, policy.attempts + 1):
        try:
            return operation(attempt)
        except ExportServiceError as exc:
            if not exc.transient or attempt == policy.attempts:
                raise
            # A server that says when to come back (Slack's 429 Retry-After) is believed, within reason.
            retry_after = getattr(exc, "retry_after", None)
            delay = min(retry_after, MAX_RETRY_AFTER_SECONDS) if retry_after is not None else policy.delay(attempt)
            logger.warning("transient failure, retrying", extra={"error_code": exc.code, "attempt": attempt, "delay_s": round(delay, 2)})
            sleep(delay)
    raise AssertionError("unreachable: the loop returns or raises")
