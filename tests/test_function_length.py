"""No function outside the notebooks is longer than 60 lines (decorators excluded, docstring included): a longer
one does several things, and each should be named."""

import ast

import pytest

from helpers.paths import REPO_ROOT

LIMIT = 60
ROOMS = ("helpers", "programs", "instructor", "tools")


def long_functions(source: str, limit: int = LIMIT) -> list[tuple[str, int]]:
    """``(name, lines)`` of every function (methods and nested ones too) longer than ``limit`` lines."""
    return [(node.name, node.end_lineno - node.lineno + 1) for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno + 1 > limit]


def test_the_counter_finds_a_long_function_and_a_long_method():
    body = "".join(f"        x{i} = {i}\n" for i in range(60))
    source = f"def long():\n{body}\ndef short():\n    pass\n\nclass C:\n    def method(self):\n{body}"
    assert long_functions(source) == [("long", 61), ("method", 61)]
    assert long_functions(source, limit=61) == []


@pytest.mark.parametrize("room", ROOMS)
def test_no_function_is_longer_than_60_lines(room):
    found = [f"{path.relative_to(REPO_ROOT)}: {name} ({lines} lines)"
             for path in sorted((REPO_ROOT / room).rglob("*.py")) for name, lines in long_functions(path.read_text())]
    assert not found, f"functions over {LIMIT} lines; split them:\n" + "\n".join(found)
