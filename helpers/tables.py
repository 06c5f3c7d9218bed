"""The course's one markdown-table writer: pandas' ``DataFrame.to_markdown`` (which needs ``tabulate``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any


def markdown_table(rows: Sequence[dict[str, Any]], align: Sequence[str] | None = None, *, compact: bool = False) -> str:
    """``rows`` (one dict per row, the keys are the header) as a markdown table; cells are written as given.

    ``align`` is one of ``"left"``/``"right"``/``"center"`` per column; by default the first column is
    left-aligned and the others right-aligned (labels, then numbers). ``compact`` drops the padding that lines
    the columns up in the source (for tables with long cells, such as links), not what a reader sees.
    """
    import pandas as pd

    frame = pd.DataFrame(list(rows))
    if align is None:
        align = ["left"] + ["right"] * (len(frame.columns) - 1)
    table = frame.to_markdown(index=False, colalign=list(align), disable_numparse=True)
    if compact:
        table = re.sub("-{3,}", "---", re.sub(" {2,}", " ", table))
    return table
