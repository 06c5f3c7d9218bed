"""Verify the course on a CUDA machine in one command: every lesson, the benchmark, a T4 emulation and the launches.

    python -m instructor.gpu_check --out results/gpu-check        # on the GPU machine (make gpu-check), <= 8 minutes
    python -m instructor.gpu_check --out results/gpu-check --tiny # every step in tiny form, on a CPU (a rehearsal)
    python -m instructor.gpu_check --only lessons --lessons 04 05  # some steps, some lessons

Each step runs in its own process (:mod:`instructor.gpu_steps`) with its own time limit; a failing step is
recorded and the next one starts.
The results folder gets ``check.log`` (every step's output), ``results.json`` and ``results.md`` (rewritten after
each step, so an interrupted run still leaves them), and, when every benchmark measurement passed,
``programs.bench``'s own ``bench-<machine>.{json,md}``. The steps:

- **lessons**: every notebook in ``notebooks/``, top to bottom, with the embedded model (``COURSE_MODEL=smollm2``)
  in the quick mode ``make test`` uses (``--full-lessons`` for the full run): as notebooks through nbclient when
  it is installed, else their code cells exported as a script (:func:`instructor.gpu_steps.export_script`);
- **bench**: ``programs.bench``'s measurements one by one (predicted vs measured peak for full / LoRA / QLoRA,
  flagged within 20%; the course and the chapter recipe side by side; the matmul roof);
- **T4 emulation**: a TinyLlama-shaped model with random weights (``helpers/configs/tinyllama-1.1b-chat.json``),
  saved and loaded in NF4 through ``BitsAndBytesConfig``, the process capped at 15 GiB, fp16 compute and fp16
  mixed precision; the course recipe at batch 8 and the chapter's at batch 4 (x 128 tokens): measured peak vs
  ``helpers.budget``, seconds per step, and a T4 time *estimate* from the ratio of fp16 matmul rates;
- **launches**: lesson 07's launch on one GPU (``single_gpu.yaml``) and FSDP-QLoRA with one process.

On a GPU, independent steps run side by side (lessons in two lanes, the memory measurements and the launches in a
third); what is timed (recipes, T4 steps, the roof) runs alone first. ``--tiny`` runs each step small and in
turn; what needs CUDA (the memory cap, fp16, FSDP) says "skipped on CPU" and why. README, "For instructors".
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from helpers.paths import REPO_ROOT, display_path

DEFAULT_OUT = REPO_ROOT / "results" / "gpu-check"
DEFAULT_WORK = REPO_ROOT / "outputs" / "gpu-check"
RESULT_FILES = ("check.log", "results.json", "results.md")
BUDGET_MINUTES = 8.0
WITHIN = 0.20
"""Predicted vs measured peak memory counts as a match within this relative error."""
LOG_LIMIT = 200_000
"""Characters of one step's output kept in check.log (the start and the end)."""

BENCH_SIZE = {"speed_steps": 30, "speed_evaluations": 3, "speed_validation_examples": 32}
"""``programs.bench.BenchSize`` of the GPU run: memory at the full size (batch 8 x 128), each recipe cut to 30
steps so the whole check fits its 8 minutes (``--bench-as-written``: each recipe as written, as ``make bench``)."""
TINY_BENCH_SIZE = {"memory_batch_size": 1, "memory_seq_len": 16, "memory_steps": 1, "speed_steps": 1,
                   "speed_evaluations": 1, "speed_validation_examples": 2}
TINY_SKIPS = {
    **dict.fromkeys((("memory", "lora"), ("memory", "qlora")),
                    "skipped in tiny mode: the full fine-tune's memory run goes through the same plumbing in seconds "
                    "(a 4-bit step on a CPU de-quantizes every weight and takes a minute)"),
    **dict.fromkeys((("speed", "course"), ("speed", "chapter")),
                    "skipped in tiny mode: a recipe trains and scores for minutes on a CPU"),
}
"""The bench measurements a tiny run leaves out, and why."""
LAUNCHES = {"single": "configs/accelerate/single_gpu.yaml", "fsdp": "configs/accelerate/fsdp_qlora.yaml"}


# --- small pieces ----------------------------------------------------------------------------------------------


def memory_error(predicted: float, measured: float) -> float:
    """Relative error of a prediction, ``predicted / measured - 1`` (+10% = predicted 10% too high)."""
    return predicted / measured - 1


def gb(value: float | None) -> str:
    """Bytes as GB with two decimals, or a dash."""
    return "—" if value is None else f"{value / 1e9:.2f} GB"


def error_tail(text: str, limit: int = 3000) -> str:
    """The end of a step's output, where the traceback is, at most ``limit`` characters."""
    text = text.rstrip()
    return text if len(text) <= limit else "…" + text[-limit:]


def clip_log(text: str, limit: int = LOG_LIMIT) -> str:
    """A step's output for check.log: all of it, or its start and its end with a line saying what was cut."""
    if len(text) <= limit:
        return text
    head, tail = text[: limit // 10], text[-(limit - limit // 10):]
    return f"{head}\n[... {len(text) - len(head) - len(tail):,} characters cut ...]\n{tail}"


# --- the plan: steps in phases and lanes -------------------------------------------------------------------------


@dataclasses.dataclass
class Step:
    """One step: a command run in its own process with a time limit, or a reason why it does not run."""

    key: str
    title: str
    group: str
    command: list[str] | None = None
    timeout: float = 300.0
    skip: str | None = None
    output: str = "details"  # "details": the step writes JSON to --details; "stdout": JSON on its last line


@dataclasses.dataclass
class Phase:
    """Steps in lanes: a lane's steps run in order; lanes run side by side unless the phase is ``quiet``."""

    name: str
    lanes: list[list[Step]]
    quiet: bool = False


@dataclasses.dataclass
class Settings:
    """What the check runs and where it writes."""

    out: Path = DEFAULT_OUT
    work: Path = DEFAULT_WORK
    tiny: bool = False
    cuda: bool = False
    minutes: float = BUDGET_MINUTES
    lessons: list[Path] = dataclasses.field(default_factory=list)
    only: tuple[str, ...] = ("lessons", "bench", "t4", "launches")
    lessons_as: str = "auto"
    full_lessons: bool = False
    bench_as_written: bool = False
    parallel: bool = False


def one_command(kind: str, settings: Settings, step_key: str, *args: str) -> list[str]:
    """``python -m instructor.gpu_steps KIND ...``: one step, run in its own process (:mod:`instructor.gpu_steps`)."""
    return [sys.executable, "-m", "instructor.gpu_steps", kind, "--work", str(settings.work),
            "--details", str(details_path(settings.work, step_key)), *(["--tiny"] if settings.tiny else []), *args]


def details_path(work: Path, key: str) -> Path:
    """Where step ``key`` writes what it measured."""
    return Path(work) / "steps" / f"{key}.details.json"


def lesson_title(path: Path) -> str:
    """A lesson's heading (``00 · The Workbench: ...``), or its file name where Jupyter's packages are missing."""
    try:
        from instructor.notebooks import notebook_title

        return notebook_title(path)
    except ImportError:
        return path.stem


def lesson_step(path: Path, settings: Settings) -> Step:
    """A lesson, run by ``gpu_steps lesson``: ``lesson-04`` for ``04_train_with_sft.ipynb``."""
    key = f"lesson-{path.stem.split('_')[0]}" if re.match(r"\d\d_", path.name) else f"lesson-{path.stem}"
    return Step(key, lesson_title(path), "lessons",
                one_command("lesson", settings, key, "--notebook", str(path), "--as", settings.lessons_as),
                timeout=420)


def bench_size(settings: Settings) -> dict[str, Any]:
    """The ``programs.bench.BenchSize`` values of this run (the defaults are ``make bench``'s)."""
    return TINY_BENCH_SIZE if settings.tiny else ({} if settings.bench_as_written else BENCH_SIZE)


def bench_step(kind: str, name: str, settings: Settings) -> Step:
    """One ``programs.bench`` measurement, run by ``bench.in_fresh_process`` (which prints its JSON)."""
    key = f"bench-{kind}-{name}"
    titles = {"memory": f"bench: training memory, {name}", "speed": f"bench: the {name} recipe",
              "matmul": "bench: the matmul roof"}
    if settings.tiny and (kind, name) in TINY_SKIPS:
        return Step(key, titles[kind], "bench", skip=TINY_SKIPS[kind, name])
    code = ("import json, sys; from programs import bench; "
            "print(json.dumps(bench.in_fresh_process(sys.argv[1], sys.argv[2], "
            "bench.BenchSize(**json.loads(sys.argv[3])))))")
    size = json.dumps(bench_size(settings))
    timeout = {"memory": 240, "speed": 600 if settings.bench_as_written else 360, "matmul": 120}[kind]
    return Step(key, titles[kind], "bench", [sys.executable, "-c", code, kind, name, size],
                timeout=timeout, output="stdout")


def build_plan(settings: Settings) -> list[Phase]:
    """The steps of this run in phases: prepare; what is timed, alone; the rest side by side (in turn when tiny)."""
    prepare = Step("prepare", "the embedded model and the versions", "setup",
                   one_command("prepare", settings, "prepare"), timeout=300)
    timed: list[Step] = []
    lane_a: list[Step] = []
    lane_b: list[Step] = []
    lane_c: list[Step] = []
    if "bench" in settings.only:
        timed += [bench_step("matmul", "peak", settings), bench_step("speed", "course", settings),
                  bench_step("speed", "chapter", settings)]
        lane_c += [bench_step("memory", method, settings) for method in ("full", "lora", "qlora")]
        lane_c.append(Step("bench-report", "bench: predicted vs measured, the report", "bench",
                           one_command("bench-report", settings, "bench-report", "--out", str(settings.out),
                                       "--size", json.dumps(bench_size(settings))),
                           timeout=120))
    if "t4" in settings.only:
        timed += [Step("t4-weights", "T4: a TinyLlama-shaped model, random weights, saved", "t4",
                       one_command("t4-weights", settings, "t4-weights"), timeout=300)]
        timed += [Step(f"t4-{name}", f"T4: the {name} recipe, NF4, fp16, 15 GiB cap", "t4",
                       one_command("t4", settings, f"t4-{name}", "--recipe", name), timeout=300)
                  for name in ("course", "chapter")]
    if "lessons" in settings.only:
        for path in settings.lessons:
            step = lesson_step(path, settings)
            number = path.name[:2]
            (lane_c if number == "06" else lane_b if number in ("04", "05", "07") else lane_a).append(step)
    if "launches" in settings.only:
        for name, config in LAUNCHES.items():
            title = "launch: lesson 07's, one GPU" if name == "single" else "launch: FSDP-QLoRA, one process"
            step = Step(f"launch-{name}", title, "launches",
                        one_command("launch", settings, f"launch-{name}", "--accelerate-config", config), timeout=420)
            (lane_a if name == "single" else lane_c).append(step)  # lanes of about equal length on a GPU
    phases = [Phase("prepare", [[prepare]], quiet=True)]
    if timed:
        phases.append(Phase("timed, alone", [timed], quiet=True))
    lanes = [lane for lane in (lane_a, lane_b, lane_c) if lane]
    if lanes:
        phases.append(Phase("side by side", lanes, quiet=not settings.parallel))
    return phases


def plan_steps(phases: list[Phase]) -> list[Step]:
    """Every step of the plan in the order check.log and the tables list them."""
    return [step for phase in phases for lane in phase.lanes for step in lane]


# --- running steps ---------------------------------------------------------------------------------------------


class GpuMemoryMonitor:
    """Samples the GPU's memory in use (``nvidia-smi``, whole device) twice a second while the check runs."""

    def __init__(self, interval: float = 0.5) -> None:
        self.samples: list[tuple[float, int]] = []
        self.interval = interval
        self._stop = threading.Event()
        self.available = shutil.which("nvidia-smi") is not None and self._read() is not None
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _read() -> int | None:
        try:
            result = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits",
                                     "-i", "0"], capture_output=True, text=True, timeout=10)
            return int(result.stdout.split()[0]) * 2**20 if result.returncode == 0 else None
        except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
            return None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            used = self._read()
            if used is not None:
                self.samples.append((time.monotonic(), used))

    def start(self) -> None:
        if self.available:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def peak_above(self, start: float, end: float) -> int | None:
        """The most memory in use between ``start`` and ``end`` above the level just before ``start``."""
        before = [used for moment, used in self.samples if moment <= start]
        during = [used for moment, used in self.samples if start <= moment <= end]
        if not self.available or not during:
            return None
        return max(0, max(during) - (before[-1] if before else min(during)))


@dataclasses.dataclass
class Outcome:
    """How a step's process ended."""

    returncode: int | None  # None: killed at its time limit
    seconds: float
    peak_rss_bytes: int | None
    output: str
    cpu_seconds: float | None = None  # user + system time of the process and the children it waited for


def run_process(command: list[str], *, timeout: float, env: dict[str, str], log: Path,
                running: set[int] | None = None) -> Outcome:
    """Run ``command`` in its own process group, output to ``log``; kill the group at ``timeout`` seconds.

    ``os.wait4`` gives the CPU time and the largest resident size of the process and the children it waited for.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    killed = threading.Event()
    with log.open("wb") as handle:
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, cwd=REPO_ROOT, env=env,
                                   start_new_session=True)
        if running is not None:
            running.add(process.pid)

        def stop() -> None:
            killed.set()
            terminate_group(process.pid)

        timer = threading.Timer(timeout, stop)
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
            if running is not None:
                running.discard(process.pid)
        process.returncode = os.waitstatus_to_exitcode(status)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # anything the step left behind (a kernel, launcher workers)
    output = log.read_text(errors="replace")
    return Outcome(None if killed.is_set() else process.returncode, time.perf_counter() - start,
                   usage.ru_maxrss * 1024, output, round(usage.ru_utime + usage.ru_stime, 1))


def terminate_group(pid: int, grace: float = 10.0) -> None:
    """SIGTERM to a step's process group; SIGKILL to what is left of it after ``grace`` seconds."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def read_step_details(step: Step, outcome: Outcome, work: Path) -> dict[str, Any]:
    """What the step measured: its details file, or the JSON on the last line of its output."""
    try:
        if step.output == "stdout":
            lines = [line for line in outcome.output.strip().splitlines() if line.startswith("{")]
            return json.loads(lines[-1]) if lines else {}
        path = details_path(work, step.key)
        return json.loads(path.read_text()) if path.is_file() else {}
    except ValueError:
        return {}


class Runner:
    """Runs the plan: lanes in threads, one process per step, a shared deadline; records every step."""

    def __init__(self, settings: Settings, env: dict[str, str], on_record=None) -> None:
        self.settings = settings
        self.env = env
        self.deadline = time.monotonic() + settings.minutes * 60
        self.records: dict[str, dict[str, Any]] = {}
        self.monitor = GpuMemoryMonitor() if settings.cuda else None
        self.running: set[int] = set()
        self.active = 0
        self.starts = 0
        self.lock = threading.Lock()
        self.on_record = on_record or (lambda: None)

    def run(self, phases: list[Phase]) -> dict[str, dict[str, Any]]:
        if self.monitor:
            self.monitor.start()
        try:
            for phase in phases:
                self.run_phase(phase)
        finally:
            if self.monitor:
                self.monitor.stop()
            for pid in list(self.running):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
        return self.records

    def run_phase(self, phase: Phase) -> None:
        if phase.quiet or len(phase.lanes) == 1:
            for lane in phase.lanes:
                self.run_lane(lane)
            return
        threads = [threading.Thread(target=self.run_lane, args=(lane,)) for lane in phase.lanes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def run_lane(self, lane: list[Step]) -> None:
        for step in lane:
            record = self.run_step(step)
            with self.lock:
                self.records[step.key] = record
                self.on_record()

    def run_step(self, step: Step) -> dict[str, Any]:
        record: dict[str, Any] = {"key": step.key, "title": step.title, "group": step.group,
                                  "command": step.command, "seconds": 0.0, "details": {}, "output": ""}
        remaining = self.deadline - time.monotonic()
        if step.skip or step.command is None:
            return {**record, "status": "skipped", "note": step.skip or "nothing to run"}
        if remaining < 15:
            note = f"skipped: the check's {self.settings.minutes:g}-minute budget ran out"
            return {**record, "status": "skipped", "note": note}
        print(f"[gpu-check] {step.key}: {step.title} ...", flush=True)
        with self.lock:
            self.active += 1
            self.starts += 1
            concurrent, starts = self.active > 1, self.starts
        start, limit = time.monotonic(), min(step.timeout, remaining)
        try:
            outcome = run_process(step.command, timeout=limit, env=self.env,
                                  log=Path(self.settings.work) / "steps" / f"{step.key}.log", running=self.running)
        except OSError as error:  # the command could not start: record it, go on with the next step
            outcome = Outcome(1, time.monotonic() - start, None, f"could not start {step.command[0]}: {error}")
        finally:
            with self.lock:
                concurrent = concurrent or self.active > 1 or self.starts != starts
                self.active -= 1
        record.update(self._judge(step, outcome, limit))
        record["concurrent"] = concurrent
        if self.monitor:
            record["gpu_used_peak_bytes"] = self.monitor.peak_above(start, time.monotonic())
        print(f"[gpu-check] {step.key}: {record['status']} in {record['seconds']:.0f} s", flush=True)
        return record

    def _judge(self, step: Step, outcome: Outcome, limit: float) -> dict[str, Any]:
        details = read_step_details(step, outcome, self.settings.work)
        result: dict[str, Any] = {"seconds": round(outcome.seconds, 1), "cpu_seconds": outcome.cpu_seconds,
                                  "returncode": outcome.returncode, "peak_rss_bytes": outcome.peak_rss_bytes,
                                  "details": details, "output": outcome.output}
        if outcome.returncode is None:
            return {**result, "status": "timed out", "note": f"killed at its time limit, {limit:.0f} s",
                    "error_tail": error_tail(outcome.output)}
        if outcome.returncode != 0:
            return {**result, "status": "failed", "note": f"exit code {outcome.returncode}",
                    "error_tail": error_tail(outcome.output)}
        if details.get("skipped"):
            return {**result, "status": "skipped", "note": details["skipped"]}
        return {**result, "status": "passed", "note": "; ".join(details.get("notes", []))}


# --- the results folder -----------------------------------------------------------------------------------------


def peak_gpu(record: dict[str, Any]) -> tuple[int | None, str]:
    """A step's peak GPU memory and how it was read: its own ``torch.cuda.max_memory_allocated`` where the step
    reports one, else the device's memory in use (nvidia-smi) above the level before the step."""
    details = record.get("details") or {}
    for key in ("cuda_peak_bytes", "measured_bytes", "peak_bytes"):
        if isinstance(details.get(key), int | float) and details.get("device", "cuda").startswith("cuda"):
            return int(details[key]), "torch"
    used = record.get("gpu_used_peak_bytes")
    if used is not None:
        return used, "nvidia-smi, other steps running" if record.get("concurrent") else "nvidia-smi"
    return None, ""


TEXT_COLUMNS = {"step", "note", "lesson", "ran as", "method", "recipe", "targets", "configuration", "device"}
"""Columns of words, left-aligned; the others hold numbers and are right-aligned."""


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A markdown table; text columns (:data:`TEXT_COLUMNS`) left-aligned, numbers right-aligned."""
    rule = "|" + "|".join(":--" if name in TEXT_COLUMNS else "--:" for name in header) + "|"
    return ["| " + " | ".join(header) + " |", rule, *("| " + " | ".join(str(cell) for cell in row) + " |"
                                                      for row in rows)]


def section(title: str, header: list[str], rows: list[list[str]]) -> list[str]:
    """A results.md section: a blank line, its heading, a blank line and its table."""
    return ["", f"## {title}", "", *table(header, rows)]


def render_markdown(report: dict[str, Any]) -> str:
    """results.md: a summary line, every step, then the lessons, memory, recipes, T4 and launch tables, failures."""
    steps = report["steps"]
    counts = {status: sum(1 for s in steps if s["status"] == status)
              for status in ("passed", "failed", "timed out", "skipped")}
    check = report["check"]
    lines = [f"# GPU check: {check['device']}, {check['date']}", "",
             f"Mode **{check['mode']}**; {check['seconds'] / 60:.1f} min of a {check['minutes']:g}-minute budget; "
             + ", ".join(f"{n} {status}" for status, n in counts.items() if n) + ". "
             + check.get("versions_line", ""), ""]
    lines += table(["step", "status", "seconds", "peak GPU memory", "note"],
                   [[f"`{s['key']}` {s['title']}", s["status"], f"{s['seconds']:.0f}", _peak_cell(s),
                     _short(s.get("note", ""))] for s in steps])
    lines += ["", "Peak GPU memory: the step's own `torch.cuda.max_memory_allocated` where it reports one (¹ marks "
              "nvidia-smi's whole-device reading instead; ² while other steps ran beside it)."]
    if check["mode"].startswith("tiny"):
        lines += ["", "Tiny mode: every size is small, so its numbers test the plumbing, not the hardware."]
    lines += _lessons_section(steps) + _memory_section(steps) + _recipes_section(steps) + _t4_section(steps)
    lines += _launch_section(steps) + _failures_section(steps)
    return "\n".join(lines) + "\n"


def _peak_cell(record: dict[str, Any]) -> str:
    value, how = peak_gpu(record)
    mark = "" if how in ("torch", "") else ("²" if "other" in how else "¹")
    return gb(value) + mark if value is not None else "—"


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split()).replace("|", "/")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _lessons_section(steps: list[dict]) -> list[str]:
    lessons = [s for s in steps if s["group"] == "lessons"]
    if not lessons:
        return []
    rows = [[s["title"], s["status"], f"{s['seconds']:.0f}", _peak_cell(s), gb(s["details"].get("rss_peak_bytes")),
             s["details"].get("ran_as", "—"), s["details"].get("quick", "—")] for s in lessons]
    return section("Lessons", ["lesson", "status", "seconds", "peak GPU memory", "peak RSS", "ran as", "quick mode"],
                   rows)


def _memory_section(steps: list[dict]) -> list[str]:
    rows = [s for s in steps if s["key"].startswith("bench-memory-") and s["status"] == "passed"]
    if not rows:
        return []
    body = []
    for s in rows:
        d = s["details"]
        error = memory_error(d["predicted_bytes"], d["measured_bytes"])
        shape = d["setup"]
        body.append([d["method"], f"{shape['batch_size']} x {shape['seq_len']}", gb(d["predicted_bytes"]),
                     gb(d["measured_bytes"]), f"{error:+.0%}", "yes" if abs(error) <= WITHIN else "**no**"])
    lines = section("Training memory, predicted vs measured (embedded SmolLM2-135M)",
                    ["method", "batch x tokens", "predicted", "measured", "error", f"within ±{WITHIN:.0%}"], body)
    return [*lines, "", f"Measured as {rows[0]['details']['measured_how']}."]


def _recipes_section(steps: list[dict]) -> list[str]:
    rows = [s for s in steps if s["key"].startswith("bench-speed-") and s["status"] == "passed"]
    if not rows:
        return []
    body = [[d["recipe"], "+".join(d["target_modules"]) if len(d["target_modules"]) < 7 else "all linear",
             f"{d['steps']} x {d['batch_size']}", f"{d['seconds_per_step']:.2f}", f"{d['tokens_per_second']:,.0f}",
             gb(d["peak_bytes"]), f"{d['validation_loss']:.3f}", f"{d['validation_chrf']:.1f}"]
            for d in (s["details"] for s in rows)]
    return section("The course recipe and the chapter's, side by side",
                   ["recipe", "targets", "steps x batch", "s/step", "tokens/s", "peak memory", "validation loss",
                    "validation chrF"], body)


def _t4_section(steps: list[dict]) -> list[str]:
    rows = [s for s in steps if s["group"] == "t4" and s["key"] != "t4-weights" and s["status"] == "passed"]
    if not rows:
        return []
    body = []
    for s in rows:
        d = s["details"]
        error = memory_error(d["predicted_bytes"], d["measured_bytes"])
        body.append([d["recipe"], f"{d['batch_size']} x {d['seq_len']}", gb(d["predicted_bytes"]),
                     gb(d["measured_bytes"]), f"{error:+.0%}", f"{d['seconds_per_step']:.3g}",
                     f"{d['t4_estimate_seconds_per_step']:.3g} (floor {d['t4_floor_seconds_per_step']:.2g})"])
    first = rows[0]["details"]
    lines = section(f"T4 emulation: {first['model']}", ["recipe", "batch x tokens", "predicted peak",
                                                          "measured peak", "error", "s/step here",
                                                          "T4 s/step, estimate"], body)
    lines += ["", f"Compute {first['compute_dtype']}, {first['precision']}; {first['memory_cap']}. "
              f"The T4 column is an **estimate**: s/step here x ({first['roof_dtype']} matmul rate here, "
              f"{first['roof_flops'] / 1e12:.1f} TFLOP/s) / (the T4's 65 TFLOP/s fp16); the floor is the step's "
              "useful FLOPs at 65 TFLOP/s. A small step bound by memory bandwidth or kernel launches takes longer "
              "on a T4 than the estimate."]
    notes = sorted({note for s in rows for note in s["details"].get("notes", [])})
    return lines + [f"- {note}" for note in notes]


def _launch_section(steps: list[dict]) -> list[str]:
    rows = [s for s in steps if s["group"] == "launches"]
    if not rows:
        return []
    body = []
    for s in rows:
        d, metrics = s["details"], s["details"].get("metrics") or {}
        body.append([d.get("config", s["key"]), s["status"], {True: "yes", False: "**no**"}.get(
            d.get("config_accepted"), "—"), metrics.get("processes", "—"), metrics.get("steps", "—"),
            metrics.get("train_seconds", "—"), metrics.get("device", "—")])
    return section("Launches", ["configuration", "status", "config accepted", "processes", "steps", "train s",
                                "device"], body)


def _failures_section(steps: list[dict]) -> list[str]:
    failed = [s for s in steps if s["status"] in ("failed", "timed out")]
    lines = []
    for s in failed:
        lines += ["", f"### {s['status']}: `{s['key']}` {s['title']} ({s.get('note', '')})", "", "```",
                  s.get("error_tail", "").replace("```", "'''"), "```"]
    return ["", "## Failures", *lines] if lines else []


def render_log(report: dict[str, Any], outputs: dict[str, str]) -> str:
    """check.log: the run's settings, then each step's command and output (long outputs cut in the middle)."""
    check = report["check"]
    lines = [f"GPU check, mode {check['mode']}, {check['device']}, started {check['started']}",
             f"command: {' '.join(check['argv'])}", ""]
    for s in report["steps"]:
        lines += [f"==== {s['key']}: {s['status']} ({s['seconds']:.0f} s) {s['title']} ===="]
        if s.get("command"):
            lines.append("$ " + shlex.join(s["command"]))
        if s.get("note"):
            lines.append(f"note: {s['note']}")
        lines += [clip_log(outputs.get(s["key"], "")), ""]
    return "\n".join(lines) + "\n"


def write_results(out: Path, report: dict[str, Any], outputs: dict[str, str]) -> list[Path]:
    """check.log, results.json and results.md in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / name for name in RESULT_FILES]
    paths[0].write_text(render_log(report, outputs))
    paths[1].write_text(json.dumps(report, indent=2, default=str) + "\n")
    paths[2].write_text(render_markdown(report))
    return paths


# --- the check ------------------------------------------------------------------------------------------------


def step_environment(settings: Settings) -> dict[str, str]:
    """Every step's environment: the repository importable, the embedded model, no Hub, outputs in the work folder."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env.update(COURSE_MODEL="smollm2", COURSE_OUTPUT_DIR=str(Path(settings.work) / "outputs"), HF_HUB_OFFLINE="1",
               HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               PYTHONUNBUFFERED="1")
    if settings.full_lessons:
        env.pop("COURSE_QUICK", None)
    else:
        env["COURSE_QUICK"] = "1"
    return env


def select_lessons(choices: list[str], tiny: bool) -> list[Path]:
    """Lessons by number (``04``) or path; none given: every lesson (on a GPU) or lesson 00 (tiny)."""
    from instructor.notebooks import lesson_notebooks

    lessons = lesson_notebooks()
    if not choices:
        return lessons[:1] if tiny else lessons
    chosen = []
    for choice in choices:
        if choice.endswith(".ipynb"):
            path = Path(choice).resolve()
            if not path.is_file():
                raise SystemExit(f"gpu_check: no notebook {choice}")
            chosen.append(path)
            continue
        found = [p for p in lessons if p.name.startswith(f"{int(choice):02d}_")] if choice.isdigit() else []
        if not found:
            raise SystemExit(f"gpu_check: no lesson {choice!r}; choose a number such as 04 or a .ipynb path")
        chosen += found
    return chosen


def build_report(settings: Settings, records: dict[str, dict], steps: list[Step], started: str,
                 seconds: float, argv: list[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """results.json's content (every step in plan order, with what it measured) and each step's output."""
    ordered, outputs = [], {}
    for step in steps:
        record = dict(records.get(step.key) or {"key": step.key, "title": step.title, "group": step.group,
                                                 "status": "not run yet", "seconds": 0.0, "details": {}})
        outputs[step.key] = record.pop("output", "")
        ordered.append(record)
    prepare = (records.get("prepare") or {}).get("details") or {}
    versions = prepare.get("versions", {})
    versions_line = (f"Python {prepare['python']}, torch {versions.get('torch')} (CUDA {prepare.get('torch_cuda')}), "
                     + ", ".join(f"{n} {versions[n]}" for n in ("transformers", "peft", "trl", "bitsandbytes",
                                                                  "accelerate") if n in versions) + "."
                     if prepare else "")
    check = {"mode": "tiny (CPU rehearsal)" if settings.tiny and not settings.cuda else
             ("tiny" if settings.tiny else "GPU"), "device": prepare.get("device", "unknown device"),
             "date": started[:10], "started": started, "seconds": seconds, "minutes": settings.minutes,
             "versions_line": versions_line, "argv": argv, "parallel": settings.parallel,
             "quick_lessons": not settings.full_lessons, "work": display_path(settings.work)}
    return {"check": check, "steps": ordered}, outputs


def run_check(settings: Settings, argv: list[str]) -> tuple[dict[str, Any], list[Path]]:
    """Run every step of the plan, rewriting the results folder after each; return the report and its files."""
    phases = build_plan(settings)
    steps = plan_steps(phases)
    (Path(settings.work) / "steps").mkdir(parents=True, exist_ok=True)
    for path in (Path(settings.work) / "steps").iterdir():
        path.unlink()
    started, clock = time.strftime("%Y-%m-%d %H:%M:%S"), time.monotonic()
    runner = Runner(settings, step_environment(settings))

    def save() -> list[Path]:
        report, outputs = build_report(settings, runner.records, steps, started, time.monotonic() - clock, argv)
        return write_results(Path(settings.out), report, outputs)

    runner.on_record = save
    runner.run(phases)
    paths = save()
    report, _ = build_report(settings, runner.records, steps, started, time.monotonic() - clock, argv)
    return report, paths


def parse_settings(argv: list[str]) -> Settings:
    parser = argparse.ArgumentParser(prog="python -m instructor.gpu_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results folder (default: results/gpu-check)")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK,
                        help="scratch folder: step logs, exported lessons, random weights (default: outputs/gpu-check)")
    parser.add_argument("--tiny", action="store_true", help="every step small; runs on a CPU in a minute or two")
    parser.add_argument("--minutes", type=float, help=f"time budget (default {BUDGET_MINUTES:g}; tiny: 5)")
    parser.add_argument("--only", nargs="+", choices=("lessons", "bench", "t4", "launches"),
                        help="run only these groups of steps")
    parser.add_argument("--lessons", nargs="+", default=[], metavar="N|PATH",
                        help="lessons by number or notebook path (default: all; tiny: lesson 00)")
    parser.add_argument("--lessons-as", choices=("auto", "notebook", "script"), default="auto",
                        help="run lessons as notebooks (nbclient) or their code as scripts (default: auto)")
    parser.add_argument("--full-lessons", action="store_true", help="run lessons in full, not in quick mode")
    parser.add_argument("--bench-as-written", action="store_true",
                        help="train each bench recipe as written (as `make bench`), not cut to 30 steps")
    parser.add_argument("--serial", action="store_true", help="run every step alone, one after another")
    args = parser.parse_args(argv)
    import torch

    cuda = torch.cuda.is_available()
    if not cuda and not args.tiny:
        parser.error("no CUDA GPU here: the check is for a GPU machine; --tiny rehearses every step on this CPU "
                     "(make gpu-check TINY=1)")
    return Settings(out=args.out.resolve(), work=args.work.resolve(), tiny=args.tiny, cuda=cuda,
                    minutes=args.minutes or (5.0 if args.tiny else BUDGET_MINUTES),
                    lessons=select_lessons(args.lessons, args.tiny),
                    only=tuple(args.only or Settings.only), lessons_as=args.lessons_as,
                    full_lessons=args.full_lessons, bench_as_written=args.bench_as_written,
                    parallel=cuda and not args.tiny and not args.serial)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    settings = parse_settings(argv)
    report, paths = run_check(settings, ["python -m instructor.gpu_check", *argv])
    print(Path(paths[2]).read_text())
    print("written:", ", ".join(display_path(p) for p in paths))
    bad = [s["key"] for s in report["steps"] if s["status"] in ("failed", "timed out", "not run yet")]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
