"""Lesson 09's shipping pieces: the Ollama Modelfile renders, with Go's own text/template, exactly the prompt the
tokenizer's chat template renders and stops where training taught the model to stop; the Modelfile reader and the
converter's source are checked without a network."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from helpers import data, gguf_export, models

go_template = pytest.importorskip("go_template", reason="py-go-template (Go's text/template) has Linux x86-64 wheels")

CONVERSATIONS = {
    "the translator's prompt": data.prompt_messages("yo, can't make the 3pm, something came up"),
    "a follow-up turn": [*data.prompt_messages("send me the deck"),
                         {"role": "assistant", "content": "Could you please send me the deck?"},
                         {"role": "user", "content": "and make it {{ fast }} & <b>short</b>"}],
    "no system message": [{"role": "user", "content": "Yo, I ain't doing that."}],
}


def render_go(template: str, messages: list[dict[str, str]], tmp_path: Path) -> str:
    """What Ollama renders: its template on ``.Messages`` (Role, Content), the Modelfile's SYSTEM not added here."""
    path = tmp_path / "template.tmpl"
    path.write_text(template)
    values = {"System": "", "Messages": [{"Role": m["role"], "Content": m["content"]} for m in messages]}
    rendered = go_template.render(path, values).decode()
    assert not rendered.startswith(("parse template failed", "render template failed")), rendered
    return rendered


@pytest.fixture(scope="module")
def tokenizer():
    return models.load_tokenizer("smollm2")


@pytest.mark.parametrize("name", CONVERSATIONS)
def test_modelfile_template_renders_what_the_tokenizer_renders(name, tokenizer, tmp_path):
    messages = CONVERSATIONS[name]
    expected = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert render_go(gguf_export.read_modelfile()["TEMPLATE"], messages, tmp_path) == expected


def test_a_template_one_newline_off_is_caught(tokenizer, tmp_path):
    broken = gguf_export.read_modelfile()["TEMPLATE"].replace("{{ .Content }}<|im_end|>\n", "{{ .Content }}<|im_end|>")
    messages = CONVERSATIONS["the translator's prompt"]
    expected = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert render_go(broken, messages, tmp_path) != expected


def test_modelfile_stops_at_the_end_of_turn_training_taught(tokenizer):
    modelfile = gguf_export.read_modelfile()
    assert ("stop", tokenizer.eos_token) in modelfile["PARAMETER"] and tokenizer.eos_token == "<|im_end|>"
    trained = tokenizer.apply_chat_template([*data.prompt_messages("hi"), {"role": "assistant", "content": "Hello."}],
                                            tokenize=False)
    assert trained.rstrip("\n").endswith("Hello.<|im_end|>"), "each trained reply ends with the stop token"
    assert modelfile["SYSTEM"] == data.SYSTEM_PROMPT
    assert modelfile["FROM"].endswith(".gguf")


def test_modelfile_reader_says_where_a_value_never_closes(tmp_path):
    path = tmp_path / "Modelfile"
    path.write_text('FROM ./x.gguf\nTEMPLATE """{{ .Prompt }}\nPARAMETER stop "<|im_end|>"\n')
    with pytest.raises(ValueError, match="TEMPLATE opens a triple-quoted value that never closes"):
        gguf_export.read_modelfile(path)


def make_sdist(folder: Path, version: str) -> Path:
    """A stand-in llama-cpp-python source archive: the converter, its packages and files the course does not need."""
    path = folder / f"llama_cpp_python-{version}.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for name in ("convert_hf_to_gguf.py", "conversion/base.py", "gguf-py/gguf/__init__.py", "src/llama.cpp"):
            body = f"# {name}\n".encode()
            info = tarfile.TarInfo(f"llama_cpp_python-{version}/vendor/llama.cpp/{name}")
            info.size = len(body)
            archive.addfile(info, io.BytesIO(body))
    return path


def test_converter_is_taken_from_the_pinned_source_once(monkeypatch, tmp_path):
    calls = []

    def fake_run(command, **_):
        calls.append(command)
        make_sdist(Path(command[command.index("--dest") + 1]), "9.9.9")
        return type("Done", (), {"returncode": 0, "stderr": ""})()

    monkeypatch.setattr(gguf_export.subprocess, "run", fake_run)
    folder = gguf_export.converter_dir("9.9.9", cache=tmp_path)
    assert (folder / "convert_hf_to_gguf.py").read_text() == "# convert_hf_to_gguf.py\n"
    assert (folder / "gguf-py" / "gguf" / "__init__.py").is_file() and not (folder / "src").exists()
    assert "llama-cpp-python==9.9.9" in calls[0]
    assert gguf_export.converter_dir("9.9.9", cache=tmp_path) == folder and len(calls) == 1, "kept, not fetched again"


def test_converter_from_a_source_archive_at_hand_needs_no_pip(monkeypatch, tmp_path):
    """An offline kit brings the source archive (tools/offline-kit.sh); pip, which builds its metadata, never runs."""
    monkeypatch.setattr(gguf_export.subprocess, "run", lambda *a, **k: pytest.fail("pip ran"))
    archive = make_sdist(tmp_path, "9.9.9")
    folder = gguf_export.converter_dir("9.9.9", cache=tmp_path / "cache", source=archive)
    assert (folder / "convert_hf_to_gguf.py").is_file() and not (folder / "src").exists()
    with pytest.raises(ValueError, match=r"not the source of llama-cpp-python 1\.0\.0"):
        gguf_export.converter_dir("1.0.0", cache=tmp_path / "cache", source=archive)


def test_converter_download_failure_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setattr(gguf_export.subprocess, "run",
                        lambda *a, **k: type("Failed", (), {"returncode": 1, "stderr": "No matching distribution"})())
    with pytest.raises(RuntimeError, match=r"(?s)could not download.*No matching distribution.*Check the network"):
        gguf_export.converter_dir("9.9.9", cache=tmp_path)


def test_course_pins_the_llama_cpp_it_converts_with():
    assert gguf_export.llama_cpp_version().count(".") == 2
