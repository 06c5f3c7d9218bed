import json
import os
import re
import time

import pytest

from helpers import embedded


def fake_conversion(target):
    """Stand-in for the 30-second GGUF conversion: writes small files and the manifest atomically."""
    partial = target.with_name(target.name + ".partial")
    partial.mkdir(parents=True)
    (partial / "config.json").write_text('{"model_type": "llama"}')
    (partial / "model.safetensors").write_bytes(b"\x00" * 1000)
    embedded.write_manifest(partial)
    partial.rename(target)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(embedded.CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(embedded, "_verified", {})
    conversions = []
    monkeypatch.setattr(embedded, "convert_gguf", lambda target: conversions.append(target) or fake_conversion(target))
    return conversions


def test_cache_dir_override(tmp_path, monkeypatch):
    monkeypatch.setenv(embedded.CACHE_ENV, str(tmp_path))
    assert embedded.converted_dir() == tmp_path / embedded.FOLDER_NAME


def test_converts_once_then_reuses(cache):
    first = embedded.ensure_converted()
    second = embedded.ensure_converted()
    assert first == second and len(cache) == 1
    assert embedded.cache_problem(first) is None


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda d: (d / "model.safetensors").write_bytes(b"\x00" * 10), "has 10 bytes"),
        (lambda d: (d / "model.safetensors").write_bytes(b"\x01" * 1000), "does not match its checksum"),
        (lambda d: (d / "config.json").unlink(), "config.json is missing"),
        (lambda d: (d / embedded.MANIFEST).unlink(), "no manifest"),
        (lambda d: (d / embedded.MANIFEST).write_text("{not json"), "unreadable manifest"),
    ],
)
def test_corrupt_or_partial_cache_is_rebuilt(cache, capsys, damage, problem):
    folder = embedded.ensure_converted()
    damage(folder)
    assert problem in embedded.cache_problem(folder)
    assert embedded.ensure_converted() == folder
    assert len(cache) == 2, "the damaged cache must be rebuilt, not used"
    assert embedded.cache_problem(folder) is None
    assert "rebuilding" in capsys.readouterr().err


def age(folder, seconds=60):
    """Make every file look ``seconds`` old, as after a conversion in an earlier session."""
    then = time.time() - seconds
    for path in folder.iterdir():
        os.utime(path, (then, then))


@pytest.fixture
def hashes(monkeypatch):
    """Count checksum computations (each one reads a whole file: 538 MB for the real model)."""
    hashed = []
    real = embedded._sha256
    monkeypatch.setattr(embedded, "_sha256", lambda path: hashed.append(path.name) or real(path))
    return hashed


def test_checksums_are_computed_once_then_a_stamp_is_compared(cache, hashes, monkeypatch):
    folder = embedded.ensure_converted()
    age(folder)
    hashes.clear()
    assert embedded.cache_problem(folder) is None
    assert sorted(hashes) == ["config.json", "model.safetensors"], "the first check reads every file"
    assert (folder / embedded.STAMP).is_file()
    assert embedded.ensure_converted() == folder and embedded.cache_problem(folder) is None
    monkeypatch.setattr(embedded, "_verified", {})  # a new process: the stamp on disk is enough
    assert embedded.cache_problem(folder) is None
    assert len(hashes) == 2, "later checks compare sizes and times only"
    assert embedded.cache_problem(folder, thorough=True) is None and len(hashes) == 4


def test_a_same_size_edit_after_the_stamp_is_caught(cache, hashes, capsys):
    folder = embedded.ensure_converted()
    age(folder)
    assert embedded.cache_problem(folder) is None  # stamped
    (folder / "model.safetensors").write_bytes(b"\x01" * 1000)  # same size, new modification time
    assert embedded.cache_problem(folder) == "model.safetensors does not match its checksum"
    assert embedded.ensure_converted() == folder and len(cache) == 2, "rebuilt, not used"
    assert "rebuilding" in capsys.readouterr().err


def test_fresh_files_are_not_stamped(cache, hashes):
    """A file written a moment ago could change again within the same time tick: keep hashing it."""
    folder = embedded.ensure_converted()
    hashes.clear()
    assert embedded.cache_problem(folder) is None and embedded.cache_problem(folder) is None
    assert not (folder / embedded.STAMP).exists() and len(hashes) == 4


def test_manifest_records_sizes(cache):
    folder = embedded.ensure_converted()
    manifest = json.loads((folder / embedded.MANIFEST).read_text())
    assert manifest["files"]["model.safetensors"]["bytes"] == 1000


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(embedded.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(embedded.EmbeddedModelMissingError, match=re.escape(embedded.INSTALL)):
        embedded.find_gguf()


def test_real_cache_is_complete():
    """The Makefile converts the real model before the tests; it must be intact and loadable."""
    folder = embedded.ensure_converted()
    assert embedded.cache_problem(folder) is None
    assert (folder / "tokenizer.json").is_file()


@pytest.mark.parametrize("below", ["", "sub", "sub/deeper"])
def test_a_cache_path_under_a_file_names_the_file_and_the_fix(tmp_path, monkeypatch, below):
    """COURSE_CACHE_DIR pointing at (or below) a regular file: a clear error, never a raw NotADirectoryError."""
    blocker = tmp_path / "notes.txt"
    blocker.write_text("not a folder")
    monkeypatch.setenv(embedded.CACHE_ENV, str(blocker / below) if below else str(blocker))
    monkeypatch.setattr(embedded, "convert_gguf", lambda target: pytest.fail("must not convert"))
    fix = r"is a file, not a folder\. Point COURSE_CACHE_DIR at a folder"
    with pytest.raises(NotADirectoryError, match=fix) as error:
        embedded.ensure_converted()
    assert f"{blocker} is a file" in str(error.value) and blocker.read_text() == "not a folder"
