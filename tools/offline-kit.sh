#!/usr/bin/env bash
# An offline kit for a CUDA machine without internet that has Python and its own CUDA build of torch:
# every wheel pinned in constraints.txt for that machine's platform, the embedded model's wheel and the
# repository (git archive of HEAD: commit first), in one tar split into parts with their SHA-256 sums.
# Pins that PyPI has only as source (SOURCE_ONLY: llama-cpp-python, which pip builds for ~9 minutes) come as
# their source archive, not installed: lesson 09 takes llama.cpp's converter from it and, without the package,
# skips its llama.cpp cells. wheels/requirements.txt lists the rest, which installs without building anything.
#
#   tools/offline-kit.sh [OUT] [PYTHON_VERSION] [PART_SIZE]      # defaults: .gpu/kit 3.12 60M
#
# Then copy OUT/ to the machine and there, in an empty folder with the parts:
#   sha256sum -c SHA256SUMS && cat course-kit.tar.part-* | tar x
#   cd course && python3 -m pip install --no-index --find-links ../wheels --no-deps -r ../wheels/requirements.txt
#   python3 -m pip install --no-index --no-deps -e . && python3 -m helpers.embedded
#   python3 -m helpers.gguf_export ../wheels/llama_cpp_python-*.tar.gz   # lesson 09's converter, from the kit
#   COURSE_MODEL=smollm2 HF_HUB_OFFLINE=1 python3 -m instructor.gpu_check   # make gpu-check's work, no online install
#
# The pins are read by pip itself, as a requirements file. --no-deps everywhere: the pins are the whole
# resolved set already (the embedded model's package included), and torch stays the machine's own.
# Not installed with the package; tests/test_tools.py runs it with pip stubbed out.
set -euo pipefail

out=${1:-.gpu/kit}
python_version=${2:-3.12}
part_size=${3:-60M}
# pip takes a wheel only for the platform tags named: glibc 2.28 and the older tags such a machine runs too
# (bitsandbytes 0.50.2 ships manylinux_2_24 only)
platforms=${PLATFORMS:-manylinux_2_28_x86_64 manylinux_2_24_x86_64 manylinux2014_x86_64}
platform_args=()
for tag in $platforms; do platform_args+=(--platform "$tag"); done
pip=${PIP:-python3 -m pip}
source_only=${SOURCE_ONLY:-llama-cpp-python}
root=$(git rev-parse --show-toplevel)
staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT

mkdir -p "$staging/wheels" "$out"
source_pattern="^($(echo "$source_only" | tr ' ' '|'))=="
grep -viE "$source_pattern" "$root/constraints.txt" > "$staging/wheels/requirements.txt"
echo "downloading the wheels of constraints.txt for cp${python_version/./} ($platforms) ..."
# shellcheck disable=SC2086  # $pip is a command with its arguments
$pip download --quiet --no-deps --only-binary=:all: "${platform_args[@]}" \
    --python-version "$python_version" --implementation cp -d "$staging/wheels" \
    -r "$staging/wheels/requirements.txt"
for pin in $(grep -iE "$source_pattern" "$root/constraints.txt"); do
    echo "downloading the source of $pin (no wheels on PyPI) ..."
    # shellcheck disable=SC2086
    $pip download --quiet --no-deps --no-binary=:all: -d "$staging/wheels" "$pin"
done

git -C "$root" archive --prefix=course/ HEAD | tar -x -C "$staging"
tar --format=pax -C "$staging" -cf "$staging/course.tar" course wheels  # pax: wheel names over 100 characters

rm -f "$out"/course-kit.tar.part-* "$out/SHA256SUMS"
split -b "$part_size" -d "$staging/course.tar" "$out/course-kit.tar.part-"
(cd "$out" && sha256sum course-kit.tar.part-* > SHA256SUMS)
echo "written to $out:"
(cd "$out" && ls -l course-kit.tar.part-* SHA256SUMS)
