"""How much a lesson does: everything, or the shortened run the test suite makes of it.

``make test`` executes every cell of every lesson in minutes by setting ``COURSE_QUICK=1``; the lessons never
test that switch themselves. They ask this module how many steps to train and which messages to score, and
state a claim that needs the whole run only when the whole run happened. Lesson 00 says so in one sentence.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TypeVar

SHORT_RUN_ENV = "COURSE_QUICK"
SHORT_STEPS = 3
SHORT_ROWS = 12  # enough for every category the quick-run checks look at (tests/test_run_size.py)

T = TypeVar("T")


def shortened() -> bool:
    """True in the test suite's shortened run (``COURSE_QUICK=1``); False for a learner and for ``make course``."""
    return os.environ.get(SHORT_RUN_ENV, "") == "1"


def full() -> bool:
    """True when the lesson runs in full: the claims that need every step and every message are checked."""
    return not shortened()


def steps(count: int, short: int = SHORT_STEPS) -> int:
    """``count`` training steps, or ``short`` of them (at most ``count``) in a shortened run."""
    if count < 1 or short < 1:
        raise ValueError(f"steps need count >= 1 and short >= 1, got count={count}, short={short}")
    return min(count, short) if shortened() else count


def rows(items: Sequence[T], short: int = SHORT_ROWS) -> Sequence[T]:
    """All of ``items``, or the first ``short`` of them in a shortened run (the same ones every time).

    A ``datasets.Dataset`` stays a ``Dataset`` (a trainer's ``eval_dataset``); anything else becomes a list.
    """
    if short < 1:
        raise ValueError(f"short must be at least 1, got {short}")
    count = min(short, len(items)) if shortened() else len(items)
    if hasattr(items, "select") and hasattr(items, "column_names"):  # a datasets.Dataset
        return items if count == len(items) else items.select(range(count))
    return list(items[:count])
