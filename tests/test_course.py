import io
import json

import pytest

from helpers import artifacts, course, embedded

RECORD = {
    "date": "2026-11-28",
    "device": "cpu (2 cores, x86_64)",
    "model": "smollm2",
    "total_seconds": 150.0,
    "notebooks": [{"notebook": "00_environment.ipynb", "seconds": 30.4}, {"notebook": "01_x.ipynb", "seconds": 119.6}],
}


def file_count(folder):
    return sum(1 for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def generated(tmp_path, monkeypatch):
    """outputs/, build/ and the converted-model cache moved to temp folders (not created yet)."""
    paths = {"outputs": tmp_path / "outputs", "build": tmp_path / "build", "cache": tmp_path / "cache" / "smollm2"}
    monkeypatch.setattr(artifacts, "outputs_dir", lambda: paths["outputs"])
    monkeypatch.setattr(course, "BUILD_DIR", paths["build"])
    monkeypatch.setattr(embedded, "converted_dir", lambda: paths["cache"])
    return paths


def fill(paths):
    for folder in paths.values():
        (folder / "sub").mkdir(parents=True)
        (folder / "sub" / "file.bin").write_bytes(b"x")


@pytest.fixture
def protected():
    """data/ and notebooks/ with their file counts, to check that cleaning leaves them alone."""
    folders = [course.REPO_ROOT / "data", course.NOTEBOOK_DIR]
    return {folder: file_count(folder) for folder in folders}


def assert_untouched(protected):
    for folder, count in protected.items():
        assert folder.is_dir() and file_count(folder) == count, folder


def test_clean_deletes_exactly_the_generated_folders(generated, protected, tmp_path, capsys):
    fill(generated)
    keep = tmp_path / "keep.txt"
    keep.write_text("not generated")
    deleted = course.clean(confirm=False)
    assert sorted(deleted) == sorted(generated.values())
    assert not any(p.exists() for p in generated.values())
    assert keep.exists() and (tmp_path / "cache").is_dir()
    out = capsys.readouterr().out
    assert out.startswith("This deletes:") and all(str(p) in out for p in generated.values())
    assert_untouched(protected)


def test_clean_lists_before_deleting_and_asks(generated, protected, monkeypatch, capsys):
    fill(generated)
    monkeypatch.setattr("sys.stdin", io.StringIO())
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)  # a learner at a terminal

    def answer(prompt):
        listed = capsys.readouterr().out
        assert all(str(p) in listed for p in generated.values()), "the list is printed before the question"
        assert all(p.exists() for p in generated.values()), "nothing is deleted before the answer"
        return "n"

    monkeypatch.setattr("builtins.input", answer)
    assert course.clean(confirm=True) == []
    assert all(p.exists() for p in generated.values())
    assert "Nothing deleted." in capsys.readouterr().out
    monkeypatch.setattr("builtins.input", lambda prompt: "y")
    assert len(course.clean(confirm=True)) == 3
    assert not any(p.exists() for p in generated.values())
    assert_untouched(protected)


def test_clean_only_lists_what_exists(generated, protected, capsys):
    generated["build"].mkdir()
    assert course.generated_paths() == [generated["build"]]
    assert course.clean(confirm=False) == [generated["build"]]
    assert str(generated["outputs"]) not in capsys.readouterr().out
    assert_untouched(protected)


def test_nothing_to_clean(generated, protected, capsys):
    assert course.generated_paths() == []
    assert course.clean(confirm=False) == []
    assert capsys.readouterr().out.strip() == "Nothing to clean."
    assert_untouched(protected)


def test_generated_paths_never_include_data_or_notebooks():
    forbidden = {course.REPO_ROOT / "data", course.NOTEBOOK_DIR, course.REPO_ROOT}
    for path in course.generated_paths():
        assert path.resolve() not in forbidden
        assert not course.NOTEBOOK_DIR.is_relative_to(path.resolve())
        assert not (course.REPO_ROOT / "data").is_relative_to(path.resolve())


def test_timing_table_has_one_row_per_notebook():
    table = course.timing_table(RECORD)
    summary = table.splitlines()[0]
    assert all(part in summary for part in ("2026-11-28", RECORD["device"], "`smollm2`", "2.5 minutes"))
    rows = [line for line in table.splitlines() if line.startswith("|")]
    assert len(rows) == 2 + len(RECORD["notebooks"])  # header, separator, one row each
    for row, expected in zip(rows[2:], RECORD["notebooks"], strict=True):
        assert f"(notebooks/{expected['notebook']})" in row
        assert f"| {expected['seconds']:.0f} |" in row


def test_update_readme_table_replaces_only_the_block(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\n## Lessons\n\n{course.TABLE_START}\nold table\n{course.TABLE_END}\n\n## After\n")
    course.update_readme_table(RECORD, readme)
    once = readme.read_text()
    assert once == (f"# Title\n\n## Lessons\n\n{course.TABLE_START}\n{course.timing_table(RECORD)}\n"
                    f"{course.TABLE_END}\n\n## After\n")
    course.update_readme_table(RECORD, readme)
    assert readme.read_text() == once


@pytest.mark.parametrize("text", ["# no markers\n", f"only the start {course.TABLE_START}\n"])
def test_update_readme_table_without_markers(tmp_path, text):
    readme = tmp_path / "README.md"
    readme.write_text(text)
    with pytest.raises(ValueError, match="no timing block"):
        course.update_readme_table(RECORD, readme)
    assert readme.read_text() == text


def test_readme_timing_block_matches_the_last_run():
    if not course.TIMINGS_FILE.exists():
        pytest.skip(f"{course.TIMINGS_FILE.name} does not exist yet: `make course` writes it and the README table")
    record = json.loads(course.TIMINGS_FILE.read_text())
    block = course.README.read_text().split(course.TABLE_START, 1)[1].split(course.TABLE_END, 1)[0]
    assert block.strip() == course.timing_table(record), "the README table is stale: run `make course`"
