"""Every relative link in the READMEs and the lessons' markdown points at a file that exists."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def relative_links(text: str) -> list[str]:
    targets = [m.group(1).split("#")[0] for m in LINK.finditer(text)]
    return [t for t in targets if t and not re.match(r"^[a-z]+:", t)]


def documents() -> list[tuple[Path, str]]:
    docs = [(p, p.read_text()) for p in [ROOT / "README.md", *sorted((ROOT / "data").rglob("README.md"))]]
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(notebook.read_text())["cells"]
        docs.append((notebook, "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")))
    return docs


@pytest.mark.parametrize(("path", "text"), documents(), ids=lambda x: x.name if isinstance(x, Path) else "")
def test_relative_links_exist(path, text):
    missing = [t for t in relative_links(text) if not (path.parent / t).exists()]
    assert not missing, f"{path.relative_to(ROOT)} links to missing files: {missing}"


def test_link_parser_sees_relative_and_skips_absolute():
    text = "[a](notebooks/x.ipynb) [b](https://example.org) [c](../data/README.md#stats)"
    assert relative_links(text) == ["notebooks/x.ipynb", "../data/README.md"]
