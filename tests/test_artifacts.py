"""Where the lessons write, and how messages show paths: relative to the repository, never this machine's folders."""

from pathlib import Path

import pytest

from helpers import artifacts, paths
from helpers.paths import REPO_ROOT, display_path


@pytest.mark.parametrize(("path", "shown"), [
    (REPO_ROOT / "outputs" / "corporate-translator-adapter", "outputs/corporate-translator-adapter"),
    (REPO_ROOT, "."),
    (Path("outputs/x"), "outputs/x"),
    ("TinyLlama/TinyLlama-1.1B-Chat-v1.0", "TinyLlama/TinyLlama-1.1B-Chat-v1.0"),
])
def test_paths_in_the_repository_are_shown_relative_to_it(path, shown):
    assert display_path(path) == shown


def test_paths_in_the_home_folder_are_shown_with_a_tilde(monkeypatch, tmp_path):
    home = tmp_path / "home" / "learner"
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: home))
    assert display_path(home / ".cache" / "peft-course") == "~/.cache/peft-course"
    assert display_path(home) == "~"
    assert display_path(tmp_path / "elsewhere") == str(tmp_path / "elsewhere")  # chosen by the user: kept


def test_a_previous_run_is_moved_aside_with_a_relative_message(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(paths, "REPO_ROOT", tmp_path)  # a repository of our own, to write in
    folder = tmp_path / "outputs" / "corporate-translator-adapter"
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text("{}")
    assert artifacts.fresh_output_dir(folder) == folder and not any(folder.iterdir())
    assert (tmp_path / "outputs" / "corporate-translator-adapter.previous" / "adapter_config.json").is_file()
    message = capsys.readouterr().out
    assert message.startswith("outputs/corporate-translator-adapter held a previous run; it was moved to "
                              "outputs/corporate-translator-adapter.previous ")
    assert str(tmp_path) not in message


def test_a_missing_adapter_is_named_relative_to_the_repository():
    with pytest.raises(FileNotFoundError, match=r"^No trained adapter at outputs/no-such-adapter \("):
        artifacts.require_adapter(REPO_ROOT / "outputs" / "no-such-adapter")
