"""Plumbing for the "Sticky Notes for a Frozen Book" PEFT course: what the lessons import, and only that.

Each module holds one concept (``runtime``, ``models``, ``embedded``, ``data``, ``evaluation``,
``style``, ``lora``, ``memory``, ``budget``, ``recipe``, ``plots``, ``artifacts``; ``colab`` is the
standard-library set-up the Colab cell runs first). The programs (``programs/``: train, bench, sweep)
and the instructor's tools (``instructor/``: run-all, links, student copies, the README writer) live
in their own packages; this one never imports them. Importing it does nothing else: no seeds, no
downloads, no global settings.
"""

__version__ = "0.1.0"
