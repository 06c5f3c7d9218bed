"""Plumbing for the "Sticky Notes for a Frozen Book" PEFT course.

Each module holds one concept (``runtime``, ``models``, ``embedded``, ``data``, ``evaluation``,
``memory``, ``lora``, ``plots``). Importing this package does nothing else: no seeds, no
downloads, no global settings.
"""

__version__ = "0.1.0"
