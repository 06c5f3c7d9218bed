"""Check cells for the exercises: the learner's answer, or a message that says what to write.

Every exercise ends in a cell tagged ``check`` that student copies keep: it fetches the learner's variables
with :func:`answer` and tests them with ``assert`` and a helpful message. The worked solution above it is
tagged ``solution``; student copies replace it with an empty cell. Lesson 00 introduces the pattern.
"""

from __future__ import annotations

import sys
from typing import Any


class MissingAnswer(AssertionError):
    """An exercise's variable does not exist yet: the exercise cell has not been written or run."""


def answer(name: str, what: str) -> Any:
    """The value of the learner's variable ``name`` (in the notebook's namespace).

    ``what`` says what it should hold; it is the message when the variable is missing, e.g.
    ``answer("gain", "a pandas Series: the mean chrF gain per category")``.
    """
    namespace = vars(sys.modules["__main__"])
    if name not in namespace:
        raise MissingAnswer(f"No `{name}` yet. Write the exercise cell above and run it: `{name}` should be {what}.")
    return namespace[name]
