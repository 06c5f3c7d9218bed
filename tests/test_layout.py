"""Three rooms by reader: helpers/ (what lessons import), programs/ (train, bench, sweep), instructor/ (run-all,
links, student copies, the README writer). helpers/ never imports the other two, and no room's modules import
each other in a circle. Read from the source with ``ast``, so a function-level import counts too."""

import ast
import sys
from pathlib import Path

import pytest

from helpers.paths import REPO_ROOT

ROOMS = ("helpers", "programs", "instructor")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for room in ROOMS for path in sorted((REPO_ROOT / room).rglob("*.py"))}


def imported_names(path: Path) -> set[str]:
    """Every module name ``path`` imports, anywhere in the file (``from a import b`` yields ``a`` and ``a.b``)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def project_imports() -> dict[str, set[str]]:
    """module -> the course modules it imports (packages and their modules)."""
    known = modules()
    return {name: {n for n in imported_names(path) if n in known and n != name} for name, path in known.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as a list of modules (first = last), or None."""
    state: dict[str, str] = {}

    def visit(node: str, trail: list[str]) -> list[str] | None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return [*trail[trail.index(nxt):], nxt] if nxt in trail else [node, nxt]
            if nxt not in state and (cycle := visit(nxt, [*trail, nxt])):
                return cycle
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start, [start])):
            return cycle
    return None


def test_helpers_never_import_programs_or_instructor():
    wrong = {name: sorted(n for n in found if n.split(".")[0] in ("programs", "instructor"))
             for name, found in project_imports().items() if name.split(".")[0] == "helpers"}
    wrong = {name: found for name, found in wrong.items() if found}
    assert not wrong, f"helpers/ is what lessons import; it must not reach into the other rooms: {wrong}"


def test_no_import_cycles():
    cycle = find_cycle(project_imports())
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_cycle_finder_finds_a_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_the_colab_bootstrap_needs_only_the_standard_library():
    """helpers/colab.py runs in Colab before anything is installed."""
    outside = sorted(n for n in imported_names(REPO_ROOT / "helpers" / "colab.py")
                     if n.split(".")[0] not in sys.stdlib_module_names and n != "__future__")
    assert not outside, f"helpers/colab.py imports {outside}"


@pytest.mark.parametrize(("name", "owner"), [("REPO_ROOT", "helpers.paths"), ("SCORES_FILE", "instructor.scores"),
                                             ("lesson_notebooks", "instructor.notebooks"),
                                             ("describe_machine", "helpers.runtime")])
def test_one_definition_each(name, owner):
    defined = []
    for module, path in modules().items():
        for node in ast.parse(path.read_text()).body:
            targets = [t.id for t in getattr(node, "targets", []) if isinstance(t, ast.Name)]
            if getattr(node, "name", None) == name or name in targets:
                defined.append(module)
    assert defined == [owner], f"{name} should be defined once, in {owner}; found in {defined}"
