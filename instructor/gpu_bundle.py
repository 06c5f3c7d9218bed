"""Write an offline bundle for a CUDA machine without internet: the course's wheels, the embedded model, the repository.

    python -m instructor.gpu_bundle --out .gpu/bundle                  # make gpu-bundle
    python -m instructor.gpu_bundle --out DIR --cuda 12.8 --glibc 2.28  # another cluster's torch and Linux
    python -m instructor.gpu_bundle --out DIR --all                     # a Python with little besides torch

The machine (:data:`TARGET`) runs Linux on x86_64 with Python 3.12 and its own CUDA build of torch. The bundle
holds the wheels the course needs there that the machine lacks (``pip download --only-binary=:all:`` for
cp312 manylinux, pinned by ``constraints.txt``, kept in a cache folder so a second build fetches nothing),
the embedded model's GGUF and the repository (``git archive`` of HEAD), packed into one ``tar.gz`` and split
into parts of at most 60 MB, each with its size and SHA-256 in ``manifest.json``, next to ``unpack.py``
(:mod:`instructor.gpu_unpack`, standard library only) that checks, joins and installs them there.

What the bundle leaves out, and why, is decided in one place: the section "what stays out" below. bitsandbytes
ships one library per CUDA version (39 MB of its 43 MB wheel); the bundle keeps the one for the machine's torch
(``--cuda``) and the CPU one, and ``unpack.py`` says so when the machine's torch is built for another CUDA.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

from helpers.paths import REPO_ROOT, display_path
from instructor import gpu_unpack

DEFAULT_OUT = REPO_ROOT / ".gpu" / "bundle"
WHEEL_CACHE = REPO_ROOT / ".gpu" / "wheels"
ARCHIVE_NAME = "course-bundle.tar.gz"
PART_LIMIT = 60_000_000
"""Bytes per part (60 MB): one part and the repository fit one 64 MiB transfer."""

TARGET = {"python": "3.12", "implementation": "cp", "machine": "x86_64", "glibc": "2.28", "cuda": "13.0"}
"""The machine the bundle is for: the course's CUDA machine (Python 3.12.3, torch 2.11.0+cu130). Wheels for
manylinux up to glibc 2.28 (RHEL 8, Ubuntu 20.04 and newer) install there; ``--glibc``/``--cuda`` change it."""

JUPYTER_UI = ("jupyterlab", "ipywidgets", "nbconvert", "ipykernel")
"""Course dependencies a person at JupyterLab needs, not a headless run (the notebook runner adds ipykernel back)."""
NOTEBOOK_RUNNER = ("nbclient", "ipykernel")
"""What runs the lessons as notebooks without JupyterLab (``--no-notebooks``: the check runs their code as scripts)."""

# --- what stays out: the one place -----------------------------------------------------------------------

NEVER_CARRIED = {
    "torch": "the machine's own CUDA build; never replaced",
    "triton": "comes with the machine's torch",
}
NEVER_CARRIED_PREFIXES = ("nvidia-", "cuda-")
"""CUDA libraries come with the machine's torch."""

NOT_NEEDED = {
    "debugpy": "ipykernel's debugger; the kernel runs without it (4 MB)",
    "jedi": "IPython's tab completion; IPython runs without it (5 MB)",
    "tzdata": "time zones for Windows; Linux has its own",
}
"""Declared dependencies that a headless run never imports."""

ON_THE_MACHINE: dict[str, str | None] = {
    # read there in a pip list (2026-11); each satisfies what the course asks for
    "accelerate": "1.15.0",
    "huggingface-hub": "1.33.0",
    "tokenizers": "0.23.2",
    "safetensors": "0.8.0",
    "numpy": "2.5.2",
    # listed there without a version: large or compiled, or base libraries; unpack.py checks their versions
    **dict.fromkeys(("pandas", "pyarrow", "matplotlib", "lxml", "pyyaml", "psutil", "packaging", "filelock",
                     "jinja2", "requests", "xxhash", "typer", "portalocker", "tabulate", "colorama", "pygments",
                     "typing-extensions", "python-dateutil", "attrs")),
}
"""Packages the course needs that the CUDA machine already has (name -> the version read there, or None).

The machine also has transformers 5.17, peft, sacrebleu, tqdm, regex and fsspec: the bundle carries those
anyway (transformers 5.17 is older than the course's 5.24; the others are small and the course needs recent
versions). A known version the course's requirements reject is carried too. ``--all`` ignores this list
(a machine with little besides torch); ``--carry NAME`` carries one of them."""


def left_out_reason(name: str, machine: dict[str, str | None]) -> str | None:
    """Why ``name`` stays out of the bundle (None: it is carried)."""
    name = canonicalize_name(name)
    if name in NEVER_CARRIED:
        return NEVER_CARRIED[name]
    if name.startswith(NEVER_CARRIED_PREFIXES):
        return "comes with the machine's CUDA torch"
    if name in NOT_NEEDED:
        return NOT_NEEDED[name]
    if name in machine:
        version = machine[name]
        return f"on the machine ({version})" if version else "on the machine (version checked by unpack.py)"
    return None


# --- which packages ---------------------------------------------------------------------------------------


class BundleBuildError(RuntimeError):
    """The bundle cannot be built; the message says what to do."""


def target_environment(target: dict[str, str] = TARGET) -> dict[str, str]:
    """PEP 508 marker values of the machine (requirements' ``; python_version < '3.13'`` and the like)."""
    return {"python_version": target["python"], "python_full_version": f"{target['python']}.0",
            "implementation_name": "cpython", "platform_python_implementation": "CPython", "os_name": "posix",
            "sys_platform": "linux", "platform_system": "Linux", "platform_machine": target["machine"],
            "platform_release": "", "platform_version": "", "implementation_version": f"{target['python']}.0"}


def applies(requirement: Requirement, extras: tuple[str, ...], environment: dict[str, str]) -> bool:
    """Whether ``requirement`` holds on the machine, for a package installed with ``extras``."""
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({**environment, "extra": extra}) for extra in ("", *extras))


def course_requirements(pyproject: Path = REPO_ROOT / "pyproject.toml", notebooks: bool = True) -> list[str]:
    """The course's dependencies a headless run needs (``pyproject.toml`` minus :data:`JUPYTER_UI`), plus the
    notebook runner."""
    dependencies = tomllib.loads(Path(pyproject).read_text())["project"]["dependencies"]
    kept = [d for d in dependencies if canonicalize_name(Requirement(d).name) not in JUPYTER_UI]
    return kept + (list(NOTEBOOK_RUNNER) if notebooks else [])


def installed_requirements(name: str) -> list[str]:
    """A package's declared requirements, read from its installed metadata (this environment)."""
    try:
        return importlib.metadata.requires(name) or []
    except importlib.metadata.PackageNotFoundError:
        raise BundleBuildError(f"{name} is not installed here, so its requirements cannot be read: "
                               "run `make install` (it installs the pinned course stack) and build again") from None


@dataclass
class Plan:
    """What goes into the bundle: carried packages (name -> pinned version), what stays out and why, and the
    requirement each package left to the machine must meet (checked by ``unpack.py``)."""

    carried: dict[str, str] = field(default_factory=dict)
    left_out: dict[str, str] = field(default_factory=dict)
    expected_on_machine: dict[str, str] = field(default_factory=dict)


def plan_packages(requirements: list[str], pins: dict[str, str], *, machine: dict[str, str | None] = ON_THE_MACHINE,
                  requires_of: Callable[[str], list[str]] = installed_requirements,
                  environment: dict[str, str] | None = None) -> Plan:
    """Walk the requirements from the course's down through every carried package; stop at what stays out.

    ``pins`` are ``constraints.txt``'s versions; ``requires_of`` reads a package's requirements (the installed
    metadata). A package left to the machine is not walked (its own needs are the machine's), but every
    specifier asked of it is collected, and one whose known version fails them is carried (and walked) instead.
    """
    environment = environment or target_environment()
    carry: set[str] = set()
    while True:
        specifiers = _walk(requirements, machine, carry, requires_of, environment)
        too_old = {name for name, wanted in specifiers.items() if name not in carry
                   and _known_version_fails(machine.get(name), wanted)}
        if not too_old:
            break
        carry |= too_old
    plan = Plan()
    for name, wanted in sorted(specifiers.items()):
        reason = None if name in carry else left_out_reason(name, machine)
        if reason is None:
            if name not in pins:
                raise BundleBuildError(f"{name} is needed on the machine but constraints.txt pins no version of "
                                       "it: add it there (pip freeze shows the installed one)")
            plan.carried[name] = pins[name]
            continue
        plan.left_out[name] = reason
        if name not in NOT_NEEDED and name != "triton" and not name.startswith(NEVER_CARRIED_PREFIXES):
            plan.expected_on_machine[name] = ",".join(sorted(set(wanted)))
    return plan


def _walk(requirements: list[str], machine: dict[str, str | None], carry: set[str],
          requires_of: Callable[[str], list[str]], environment: dict[str, str]) -> dict[str, list[str]]:
    """Every package reached from ``requirements`` through carried ones -> the specifiers asked of it."""
    specifiers: dict[str, list[str]] = {}
    walked: dict[str, set[str]] = {}  # name -> extras already followed
    queue = [Requirement(r) for r in requirements]
    while queue:
        requirement = queue.pop(0)
        name = canonicalize_name(requirement.name)
        specifiers.setdefault(name, [])
        if str(requirement.specifier):
            specifiers[name].append(str(requirement.specifier))
        if name in walked and set(requirement.extras) <= walked[name]:
            continue
        walked[name] = walked.get(name, set()) | set(requirement.extras)
        if name not in carry and left_out_reason(name, machine) is not None:
            continue
        extras = tuple(sorted(walked[name]))
        queue += [needed for line in requires_of(name) if applies(needed := Requirement(line), extras, environment)]
    return specifiers


def _known_version_fails(version: str | None, wanted: list[str]) -> bool:
    """True when the machine's known ``version`` does not meet every specifier in ``wanted``."""
    return bool(version) and not SpecifierSet(",".join(wanted)).contains(Version(version), prereleases=True)


def read_pins(path: Path = REPO_ROOT / "constraints.txt") -> dict[str, str]:
    """``name==version`` lines of a constraints file, by canonical name."""
    pins = {}
    for line in Path(path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            (version,) = [s.version for s in requirement.specifier if s.operator == "=="]
            pins[canonicalize_name(requirement.name)] = version
    return pins


# --- the wheels -------------------------------------------------------------------------------------------


def platform_tags(target: dict[str, str] = TARGET) -> list[str]:
    """manylinux tags the machine accepts, newest first (glibc 2.17 up to ``target['glibc']``)."""
    newest = int(target["glibc"].split(".")[1])
    machine = target["machine"]
    tags = [f"manylinux_2_{minor}_{machine}" for minor in range(newest, 16, -1)]
    return [*tags, f"manylinux2014_{machine}", f"manylinux1_{machine}"]


def cached_wheel(folder: Path, name: str, version: str) -> Path | None:
    """The wheel of ``name==version`` in ``folder``, if one was downloaded before."""
    for path in sorted(Path(folder).glob("*.whl")):
        wheel_name, wheel_version, _, _ = parse_wheel_filename(path.name)
        if canonicalize_name(wheel_name) == canonicalize_name(name) and wheel_version == Version(version):
            return path
    return None


def download_command(specs: list[str], folder: Path, target: dict[str, str] = TARGET) -> list[str]:
    """``pip download`` of exactly ``specs`` (no dependencies) as wheels for the machine."""
    platforms = [option for tag in platform_tags(target) for option in ("--platform", tag)]
    return [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
            "--only-binary=:all:", "--python-version", target["python"], "--implementation", target["implementation"],
            *platforms, "--dest", str(folder), *specs]


def fetch_wheels(carried: dict[str, str], cache: Path = WHEEL_CACHE,
                 target: dict[str, str] = TARGET) -> dict[str, Path]:
    """The wheel of every carried package, from the cache folder; what is not there is downloaded into it first."""
    cache.mkdir(parents=True, exist_ok=True)
    missing = [f"{name}=={version}" for name, version in carried.items() if cached_wheel(cache, name, version) is None]
    if missing:
        print(f"downloading {len(missing)} wheels into {display_path(cache)} ...", flush=True)
        result = subprocess.run(download_command(missing, cache, target), capture_output=True, text=True)
        if result.returncode != 0:
            raise BundleBuildError(f"pip download failed for {' '.join(missing)}:\n{result.stderr[-3000:]}\n"
                                   "No wheel for this Python and Linux? Try a newer --glibc, or pin another version.")
    wheels = {}
    for name, version in carried.items():
        wheel = cached_wheel(cache, name, version)
        if wheel is None:
            raise BundleBuildError(f"pip reported success but no wheel of {name}=={version} is in {cache}")
        wheels[name] = wheel
    return wheels


def trim_bitsandbytes(wheel: Path, cuda: str, folder: Path) -> tuple[Path, list[str]]:
    """A copy of the bitsandbytes wheel in ``folder`` that keeps the CPU library and the one for CUDA ``cuda``
    (``"13.0"``) and drops the other CUDA, ROCm and XPU builds; its RECORD lists what is left. Returns the wheel
    and the libraries kept (``["cpu", "cuda130"]``)."""
    keep = f"cuda{cuda.replace('.', '')}"
    library = re.compile(r"/libbitsandbytes_(\w+?)\.(so|dll|dylib)$")
    target = Path(folder) / wheel.name
    kept = []
    with zipfile.ZipFile(wheel) as source, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        dropped = set()
        for item in source.infolist():
            found = library.search(item.filename)
            if found and found.group(1) not in ("cpu", keep):
                dropped.add(item.filename)
            elif found:
                kept.append(found.group(1))
        if keep not in kept:
            raise BundleBuildError(f"{wheel.name} has no library for CUDA {cuda} ({keep}); "
                                   "choose another --cuda, or --cuda all")
        for item in source.infolist():
            if item.filename in dropped:
                continue
            data = source.read(item.filename)
            if item.filename.endswith(".dist-info/RECORD"):
                lines = data.decode().splitlines()
                data = ("\n".join(line for line in lines if line.split(",", 1)[0] not in dropped) + "\n").encode()
            out.writestr(item, data)
    return target, sorted(kept)


# --- packing and splitting --------------------------------------------------------------------------------


def repository_archive(target: Path, worktree: bool = False) -> dict[str, str]:
    """The repository as a ``tar.gz``: ``git archive`` of HEAD, or (``worktree``) every file git would track."""
    commit = _git("rev-parse", "HEAD").strip()
    if not worktree:
        _git("archive", "--format=tar.gz", "-o", str(target), "HEAD")
        return {"commit": commit, "source": "HEAD"}
    with tarfile.open(target, "w:gz") as tar:
        for name in _git("ls-files", "--cached", "--others", "--exclude-standard", "-z").split("\0"):
            if name and (REPO_ROOT / name).is_file():
                tar.add(REPO_ROOT / name, arcname=name)
    return {"commit": commit, "source": "working tree"}


def _git(*args: str) -> str:
    result = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise BundleBuildError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def uncommitted_changes() -> list[str]:
    """Files that differ from HEAD, new ones included (a bundle built from HEAD does not have them)."""
    return [line[3:] for line in _git("status", "--porcelain").splitlines()]


def pack(staging: Path, archive: Path) -> None:
    """Everything in ``staging`` into one ``tar.gz`` (names relative to ``staging``)."""
    with tarfile.open(archive, "w:gz", compresslevel=6) as tar:
        for path in sorted(staging.rglob("*")):
            if path.is_file():
                tar.add(path, arcname=path.relative_to(staging).as_posix())


def split_file(path: Path, limit: int, folder: Path) -> list[dict]:
    """Cut ``path`` into ``<name>.part1``, ``.part2``, ... of at most ``limit`` bytes in ``folder``; return each
    part's name, size and SHA-256. Joined in order, the parts are the file again."""
    if limit < 1:
        raise ValueError(f"limit must be positive, got {limit}")
    parts = []
    with Path(path).open("rb") as source:
        while True:
            digest, written = hashlib.sha256(), 0
            name = f"{Path(path).name}.part{len(parts) + 1}"
            with (Path(folder) / name).open("wb") as out:
                while written < limit and (block := source.read(min(gpu_unpack.CHUNK, limit - written))):
                    out.write(block)
                    digest.update(block)
                    written += len(block)
            if written == 0:
                (Path(folder) / name).unlink()
                break
            parts.append({"name": name, "bytes": written, "sha256": digest.hexdigest()})
    return parts


def remove_old_bundle(folder: Path) -> None:
    """Delete a previous bundle's files in ``folder`` (its parts, manifest and unpack.py), nothing else."""
    for path in [*folder.glob(f"{ARCHIVE_NAME}.part*"), folder / gpu_unpack.MANIFEST, folder / "unpack.py"]:
        if path.is_file():
            path.unlink()


# --- building it ------------------------------------------------------------------------------------------


@dataclass
class Options:
    """How to build: for which machine, what to carry beyond the plan, and with what."""

    out: Path = DEFAULT_OUT
    cache: Path = WHEEL_CACHE
    cuda: str = TARGET["cuda"]
    glibc: str = TARGET["glibc"]
    carry_all: bool = False
    carry: tuple[str, ...] = ()
    notebooks: bool = True
    worktree: bool = False
    part_limit: int = PART_LIMIT


def stage(options: Options, plan: Plan, staging: Path, target: dict[str, str]) -> dict:
    """Put what the bundle holds into ``staging``: ``wheels/``, ``model/`` and ``repo.tar.gz``; return the
    manifest's description of them."""
    from helpers import embedded

    wheels = fetch_wheels(plan.carried, options.cache, target)
    (staging / "wheels").mkdir(parents=True)
    (staging / "model").mkdir()
    bnb = {}
    for name, wheel in wheels.items():
        if name == "bitsandbytes" and options.cuda != "all":
            trimmed, kept = trim_bitsandbytes(wheel, options.cuda, staging / "wheels")
            bnb = {"cuda_libraries": kept, "wheel_bytes": trimmed.stat().st_size,
                   "full_wheel_bytes": wheel.stat().st_size}
        else:
            shutil.copy2(wheel, staging / "wheels" / wheel.name)
    gguf = embedded.find_gguf()
    shutil.copy2(gguf, staging / "model" / gguf.name)
    repository = repository_archive(staging / "repo.tar.gz", options.worktree)
    return {"contents": contents_of(staging, repository, options.notebooks), "bitsandbytes": bnb}


def contents_of(staging: Path, repository: dict[str, str], notebooks: bool) -> dict:
    """The manifest's ``contents``: the wheels, the model file and the repository archive in ``staging``."""
    (model,) = sorted((staging / "model").iterdir())
    return {
        "wheels_folder": "wheels",
        "wheels": [{"file": f"wheels/{path.name}", "bytes": path.stat().st_size}
                   for path in sorted((staging / "wheels").iterdir())],
        "model": {"file": f"model/{model.name}", "bytes": model.stat().st_size},
        "repository": {"file": "repo.tar.gz", "bytes": (staging / "repo.tar.gz").stat().st_size, **repository},
        "notebooks": notebooks,
    }


def write_bundle(staging: Path, out: Path, manifest: dict, part_limit: int = PART_LIMIT) -> dict:
    """Pack ``staging`` into one archive, split it into parts in ``out``, and write ``manifest.json`` (``manifest``
    plus the archive's and the parts' sizes and checksums) and ``unpack.py`` beside them; return the manifest."""
    out.mkdir(parents=True, exist_ok=True)
    remove_old_bundle(out)
    archive = out / ARCHIVE_NAME
    pack(staging, archive)
    manifest = {"format": gpu_unpack.FORMAT, "created": time.strftime("%Y-%m-%d %H:%M"), **manifest,
                "archive": {"name": ARCHIVE_NAME, "bytes": archive.stat().st_size,
                            "sha256": gpu_unpack.sha256_file(archive)},
                "part_limit_bytes": part_limit, "parts": split_file(archive, part_limit, out)}
    archive.unlink()
    (out / gpu_unpack.MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    shutil.copy2(Path(gpu_unpack.__file__), out / "unpack.py")
    return manifest


def build(options: Options) -> dict:
    """Build the bundle described by ``options``; return its manifest."""
    target = {**TARGET, "cuda": options.cuda, "glibc": options.glibc}
    forced = {canonicalize_name(name) for name in options.carry}
    machine = {} if options.carry_all else {n: v for n, v in ON_THE_MACHINE.items() if n not in forced}
    plan = plan_packages(course_requirements(notebooks=options.notebooks), read_pins(), machine=machine,
                         environment=target_environment(target))
    staging = Path(options.out) / ".staging"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staged = stage(options, plan, staging, target)
        described = {"target": target, **staged, "pins": plan.carried, "left_out": plan.left_out,
                     "never_carried": sorted(NEVER_CARRIED), "expected_on_machine": plan.expected_on_machine}
        return write_bundle(staging, Path(options.out), described, options.part_limit)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def summary(manifest: dict, out: Path) -> str:
    """What was written, in a few lines: parts and sizes, what the archive holds, what stays out."""
    parts = manifest["parts"]
    total = sum(p["bytes"] for p in parts)
    contents = manifest["contents"]
    wheels = sum(w["bytes"] for w in contents["wheels"])
    sizes = ", ".join(f"{p['bytes'] / 1e6:.1f}" for p in parts)
    lines = [f"bundle in {display_path(out)}: {len(parts)} part(s), {total / 1e6:.1f} MB "
             f"({sizes} MB) + manifest.json + unpack.py",
             f"  {len(contents['wheels'])} wheels ({wheels / 1e6:.1f} MB), the model's GGUF "
             f"({contents['model']['bytes'] / 1e6:.1f} MB), the repository ({contents['repository']['source']}, "
             f"{contents['repository']['commit'][:10]}), jupyter runner: {'yes' if contents['notebooks'] else 'no'}"]
    if manifest["bitsandbytes"]:
        bnb = manifest["bitsandbytes"]
        lines.append(f"  bitsandbytes keeps {', '.join(bnb['cuda_libraries'])}: {bnb['wheel_bytes'] / 1e6:.1f} MB "
                     f"instead of {bnb['full_wheel_bytes'] / 1e6:.1f} MB")
    lines.append(f"  left to the machine: {', '.join(sorted(manifest['expected_on_machine']))}")
    lines.append("On the machine, with every part next to manifest.json and unpack.py: python3 unpack.py")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m instructor.gpu_bundle", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the parts (default: .gpu/bundle)")
    parser.add_argument("--cache", type=Path, default=WHEEL_CACHE, help="wheel cache folder (default: .gpu/wheels)")
    parser.add_argument("--cuda", default=TARGET["cuda"],
                        help=f"CUDA version of the machine's torch, torch.version.cuda (default {TARGET['cuda']}); "
                             "'all' keeps every bitsandbytes library (+40 MB)")
    parser.add_argument("--glibc", default=TARGET["glibc"], help=f"the machine's glibc (default {TARGET['glibc']})")
    parser.add_argument("--all", action="store_true", dest="carry_all",
                        help="carry every package the course needs except torch and CUDA's own libraries")
    parser.add_argument("--carry", action="append", default=[], metavar="NAME",
                        help="carry this package although the machine has it (repeatable)")
    parser.add_argument("--no-notebooks", action="store_false", dest="notebooks",
                        help="leave out nbclient and ipykernel: the check then runs the lessons' code as scripts")
    parser.add_argument("--worktree", action="store_true",
                        help="pack the working tree's files instead of HEAD (uncommitted changes included)")
    args = parser.parse_args(argv)
    options = Options(out=args.out, cache=args.cache, cuda=args.cuda, glibc=args.glibc, carry_all=args.carry_all,
                      carry=tuple(args.carry), notebooks=args.notebooks, worktree=args.worktree)
    try:
        if not options.worktree and (changed := uncommitted_changes()):
            print(f"note: {len(changed)} changed or new file(s) are not committed, so not in the bundle "
                  f"(e.g. {changed[0]}); commit them, or pass --worktree", file=sys.stderr)
        manifest = build(options)
    except BundleBuildError as error:
        print(f"gpu_bundle: {error}", file=sys.stderr)
        return 1
    print(summary(manifest, options.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
