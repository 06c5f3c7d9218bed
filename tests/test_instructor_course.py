"""Run-all's clean-up: it deletes exactly what the lessons generated, after listing it (the README writer is
tested in test_instructor_readme.py)."""

import io

import pytest

from helpers import artifacts, embedded
from helpers.paths import REPO_ROOT
from instructor import course
from instructor.notebooks import NOTEBOOK_DIR


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
    folders = [REPO_ROOT / "data", NOTEBOOK_DIR]
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
    forbidden = {REPO_ROOT / "data", NOTEBOOK_DIR, REPO_ROOT}
    for path in course.generated_paths():
        assert path.resolve() not in forbidden
        assert not NOTEBOOK_DIR.is_relative_to(path.resolve())
        assert not (REPO_ROOT / "data").is_relative_to(path.resolve())


@pytest.fixture
def fake_run(tmp_path, monkeypatch):
    """Run-all without executing anything: each notebook 'takes' 1.5 s; the README writer is recorded, not run."""
    from instructor import readme

    calls = []
    row = {"seconds": 1.5, "solution_seconds": 0.5, "peak_bytes": 1_200_000_000, "peak_anon_bytes": 900_000_000,
           "peak_anon_cell": 7}
    monkeypatch.setattr(course, "execute_notebook", lambda path, **_: row)
    monkeypatch.setattr(course, "export_html", lambda path, target: None)
    monkeypatch.setattr(course, "machine_speed", lambda: 68.0)
    monkeypatch.setattr(course, "BUILD_DIR", tmp_path / "build")
    monkeypatch.setattr(readme, "TIMINGS_FILE", tmp_path / "timings.json")
    monkeypatch.setattr(readme, "update_readme", lambda: calls.append("update_readme"))
    return tmp_path / "timings.json", calls


def test_a_full_run_records_timings_and_rewrites_the_readme(fake_run, capsys):
    import json

    from instructor.notebooks import lesson_notebooks

    timings, calls = fake_run
    record = course.run_course()
    assert json.loads(timings.read_text()) == record
    assert [row["notebook"] for row in record["notebooks"]] == [p.name for p in lesson_notebooks()]
    assert record["total_seconds"] == pytest.approx(1.5 * len(lesson_notebooks()))
    assert all(row["peak_bytes"] == 1_200_000_000 and row["peak_anon_bytes"] == 900_000_000
               and row["peak_anon_cell"] == 7 and row["solution_seconds"] == 0.5 for row in record["notebooks"])
    assert calls == ["update_readme"]
    out = capsys.readouterr().out
    assert "| seconds | in solutions | peak resident | peak held |" in out and "| 2 | 0 | 1.20 GB | 0.90 GB |" in out


def test_a_partial_run_records_nothing(fake_run):
    from instructor.notebooks import lesson_notebooks

    timings, calls = fake_run
    course.run_course(lesson_notebooks()[:1])
    assert not timings.exists() and calls == []


def test_a_recorded_partial_run_replaces_only_its_rows_and_says_when(fake_run):
    import json

    from instructor import readme
    from instructor.notebooks import lesson_notebooks

    timings, calls = fake_run
    whole = course.run_course()
    assert whole["matmul_gflops"] == 68.0 and "68 GFLOP/s" in readme.timing_table(whole)
    slower = {"seconds": 9.5, "solution_seconds": 0.5, "peak_bytes": 1, "peak_anon_bytes": 1, "peak_anon_cell": 0}
    course.execute_notebook = lambda path, **_: slower
    last = lesson_notebooks()[-1]
    record = course.run_course([last], record=True)
    assert json.loads(timings.read_text()) == record and calls == ["update_readme", "update_readme"]
    rows = {row["notebook"]: row for row in record["notebooks"]}
    assert rows[last.name]["seconds"] == 9.5 and rows[last.name]["date"] == whole["date"]
    assert [row["seconds"] for name, row in rows.items() if name != last.name] == [1.5] * (len(rows) - 1)
    assert record["total_seconds"] == pytest.approx(1.5 * (len(rows) - 1) + 9.5)
    assert f"Run on its own later: lesson {last.name[:2]} on {whole['date']}" in readme.timing_table(record)


# --- what a lesson costs: seconds and the kernel's peak memory -----------------------------------------------


def test_stream_outputs_are_stored_as_a_reader_sees_them():
    import nbformat

    notebook = nbformat.v4.new_notebook()
    stream = nbformat.v4.new_output
    notebook.cells = [nbformat.v4.new_code_cell("train()", outputs=[
        stream("stream", name="stdout", text="process 0 of 2\n"),
        stream("stream", name="stderr", text="\r  0%|  | 0/3"),
        stream("stream", name="stderr", text="\r 33%|# | 1/3\r100%|##| 3/3"),
        stream("stream", name="stderr", text="\n"),
        nbformat.v4.new_output("display_data", data={"text/plain": "table"}),
        stream("stream", name="stdout", text="done\r\n"),
    ])]
    course.tidy_stream_outputs(notebook)
    outputs = notebook.cells[0].outputs
    assert [o.get("text") for o in outputs] == ["process 0 of 2\n", "100%|##| 3/3\n", None, "done\n"]


def test_executing_a_notebook_records_its_kernels_peak(tmp_path):
    """A real kernel that holds a 250 MB buffer for 0.3 s: both peaks are the buffer plus the kernel's own memory
    (an idle ipykernel holds under 300 MB), and the anonymous peak is that of cell 0."""
    import nbformat

    path = tmp_path / "00_probe.ipynb"
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("import time\nbuffer = bytearray(250_000_000)\ntime.sleep(0.3)\n"
                                                "del buffer"),
                      nbformat.v4.new_code_cell("print('ok')")]
    notebook.cells[0].metadata["tags"] = ["solution"]  # its 0.3 s count as an exercise's solution
    nbformat.write(notebook, path)
    run = course.execute_notebook(path, timeout=120)
    assert run["seconds"] > 0 and 250_000_000 <= run["peak_bytes"] < 550_000_000
    # the sampler saw the buffer while cell 0 held it (the cell sleeps so that a 20 ms sampler cannot miss it)
    assert run["peak_anon_cell"] == 0 and 250_000_000 <= run["peak_anon_bytes"] < 550_000_000
    assert nbformat.read(path, as_version=4).cells[1].outputs[0]["text"] == "ok\n"
    assert 0.3 <= run["solution_seconds"] < run["seconds"]

