"""The memory a lesson holds: anonymous memory of a process and its children, sampled while it runs."""

import os
import subprocess
import sys
import time

import pytest

from instructor import kernel_memory

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="read from /proc (Linux)")

HOLD = "import sys; b = bytearray({n}); b[::4096] = b'x' * len(b[::4096]); print('ready', flush=True); sys.stdin.read()"


def hold(n_bytes: int) -> subprocess.Popen:
    """A child that holds ``n_bytes`` of touched memory until its stdin closes."""
    child = subprocess.Popen([sys.executable, "-c", HOLD.format(n=n_bytes)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "ready"
    return child


def test_anonymous_memory_of_a_process_and_of_its_tree():
    before = kernel_memory.tree_anonymous_bytes(os.getpid())
    child = hold(300_000_000)
    try:
        assert 300_000_000 <= kernel_memory.anonymous_bytes(child.pid) < 400_000_000
        assert child.pid in kernel_memory.process_tree(os.getpid())
        assert kernel_memory.tree_anonymous_bytes(os.getpid()) >= before + 300_000_000
    finally:
        child.communicate("")
    assert kernel_memory.anonymous_bytes(child.pid) is None
    assert kernel_memory.tree_anonymous_bytes(child.pid) is None


def test_the_sampler_keeps_the_peak_of_the_step_that_reached_it():
    with kernel_memory.TreeMemorySampler(os.getpid(), interval=0.01) as sampler:
        sampler.mark(0)
        time.sleep(0.05)
        sampler.mark(1)
        child = hold(250_000_000)  # a child started during step 1 counts: lesson 07's launch is such a child
        time.sleep(0.1)
        child.communicate("")
        sampler.mark(2)
        time.sleep(0.05)
    assert max(sampler.peak_by_step, key=sampler.peak_by_step.get) == 1
    assert sampler.peak == sampler.peak_by_step[1] >= sampler.peak_by_step[0] + 200_000_000
    assert sampler.peak_by_step[2] < sampler.peak - 200_000_000

