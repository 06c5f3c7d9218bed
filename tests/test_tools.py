"""tools/offline-kit.sh, with pip stubbed out: the parts join into the repository and the wheels, and their
checksums hold."""

import shutil
import subprocess
import tarfile

import pytest

from helpers.gguf_export import llama_cpp_version
from helpers.paths import REPO_ROOT

FAKE_PIP = """#!/usr/bin/env bash
# Records its arguments, one call a line, and writes one wheel into the -d folder.
echo "$@" >> "$PIP_LOG"
while [ $# -gt 0 ]; do [ "$1" = -d ] && touch "$2/fakepkg-1.0-py3-none-any.whl"; shift; done
"""


@pytest.mark.skipif(not shutil.which("sha256sum") or not shutil.which("split"), reason="needs coreutils")
def test_offline_kit_parts_join_into_the_course_and_its_wheels(tmp_path):
    pip = tmp_path / "pip"
    pip.write_text(FAKE_PIP)
    pip.chmod(0o755)
    out = tmp_path / "kit"
    env = {"PATH": "/usr/bin:/bin", "PIP": str(pip), "PIP_LOG": str(tmp_path / "pip.log")}
    subprocess.run(["bash", str(REPO_ROOT / "tools" / "offline-kit.sh"), str(out), "3.12", "500K"],
                   cwd=REPO_ROOT, env=env, check=True, capture_output=True)
    wheels, *sources = [line.split() for line in (tmp_path / "pip.log").read_text().splitlines()]
    assert wheels[:2] == ["download", "--quiet"] and "--no-deps" in wheels and "--only-binary=:all:" in wheels
    assert wheels[wheels.index("--python-version") + 1] == "3.12"
    assert wheels[wheels.index("-r") + 1].endswith("/wheels/requirements.txt")
    # llama-cpp-python has no wheels on PyPI: its source archive comes alone (lesson 09 takes the converter from it)
    assert sources == [["download", "--quiet", "--no-deps", "--no-binary=:all:", "-d", sources[0][-2],
                        f"llama-cpp-python=={llama_cpp_version()}"]]
    parts = sorted(out.glob("course-kit.tar.part-*"))
    assert len(parts) >= 2 and all(p.stat().st_size <= 500 * 1024 for p in parts)
    subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=out, check=True)
    joined = tmp_path / "joined.tar"
    joined.write_bytes(b"".join(p.read_bytes() for p in parts))
    with tarfile.open(joined) as tar:
        names = set(tar.getnames())
        requirements = tar.extractfile("wheels/requirements.txt").read().decode().splitlines()
    assert {"course/constraints.txt", "course/Makefile", "wheels/fakepkg-1.0-py3-none-any.whl"} <= names
    pins = (REPO_ROOT / "constraints.txt").read_text().splitlines()
    assert requirements == [pin for pin in pins if not pin.lower().startswith("llama-cpp-python==")]
