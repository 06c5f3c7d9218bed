"""Where the repository is, and how a message shows a path: relative to it, never with this machine's folders.

Introduced in lesson 04 (every saved file is printed this way).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def display_path(path: str | os.PathLike) -> str:
    """``path`` as a message should show it: relative to the repository when inside it (``outputs/...``), with
    ``~`` for the home folder, else as it is. Printed output (and so a committed notebook) then never carries
    the folders of the machine it ran on. Lessons 04 and 05."""
    path = Path(path)
    if not path.is_absolute():
        return path.as_posix()
    try:
        home = Path.home()
    except RuntimeError:  # no home folder known
        home = None
    for candidate in dict.fromkeys((path, path.resolve())):
        for base, prefix in ((REPO_ROOT, ""), (home, "~")):
            if base is not None and candidate.is_relative_to(base):
                relative = candidate.relative_to(base).as_posix()
                if not prefix:
                    return relative
                return prefix if relative == "." else f"{prefix}/{relative}"
    return path.as_posix()
