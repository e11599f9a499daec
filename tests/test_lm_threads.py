"""Automatic threads: one per physical core that other processes leave idle; resumes keep their count."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from deeprnn.lm import checkpoint as ck
from deeprnn.lm import threads
from lm_helpers import no_plots, run_trainer, tiny_config, write_corpus

pytestmark = pytest.mark.usefixtures("no_plots")
assert no_plots  # a fixture, imported for pytestmark


@pytest.mark.parametrize("physical, logical, others, expected", [
    (2, 2, 0.0, 2),  # a quiet machine: every core
    (2, 2, 0.2, 2),  # background noise
    (2, 2, 0.3, 1),  # a core a quarter busy or more is taken (OpenBLAS would spin-wait on it)
    (2, 2, 1.0, 1),  # the other core busy
    (2, 2, 3.0, 1),  # overloaded: still one thread
    (4, 8, 2.0, 3),  # hyper-threads: two busy logical CPUs are about one physical core
    (1, 1, 0.0, 1),
])
def test_the_auto_rule(physical, logical, others, expected):
    assert threads.idle_cores(physical, logical, others) == expected


class _Clock:
    """Stands for the time module in deeprnn.lm.threads: wall and process time advance as scripted."""

    def __init__(self, wall, own):
        self.wall, self.own = list(wall), list(own)

    def monotonic(self):
        return self.wall.pop(0)

    def process_time(self):
        return self.own.pop(0)

    def sleep(self, seconds):
        pass


def _scripted_probe(monkeypatch, busy_cpu_seconds: float, own_cpu_seconds: float) -> threads.LoadProbe:
    """A probe over 1 s of a 2-core machine on which ``busy_cpu_seconds`` were busy in all, of them
    ``own_cpu_seconds`` by this process."""
    hz = os.sysconf("SC_CLK_TCK")
    ticks = iter([0, round(busy_cpu_seconds * hz)])
    monkeypatch.setattr(threads, "_cpu_ticks", lambda cpus: next(ticks))
    monkeypatch.setattr(threads, "_usable_cpus", lambda: {0, 1})
    monkeypatch.setattr(threads, "physical_cores", lambda cpus: 2)
    monkeypatch.setattr(threads, "time", _Clock(wall=[0.0, 1.0, 1.0], own=[0.0, own_cpu_seconds]))
    return threads.LoadProbe()


def test_the_probe_does_not_count_this_process(monkeypatch):
    """1.1 CPU-seconds busy, 1.0 of them our own setup: the others use 0.1 CPU, so both cores are idle."""
    assert _scripted_probe(monkeypatch, 1.1, 1.0).others_busy() == pytest.approx(0.1, abs=0.02)
    assert _scripted_probe(monkeypatch, 1.1, 1.0).idle_cores()[0] == 2
    assert _scripted_probe(monkeypatch, 1.1, 0.0).idle_cores()[0] == 1  # the same busy time, from others


def test_a_busy_core_is_left_alone():
    """A real busy loop in another process: auto never takes every core."""
    cpus = threads.physical_cores(threads._usable_cpus())
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        probe = threads.LoadProbe()
        n, note = threads.resolve_threads(threads.AUTO, probe)
    finally:
        busy.kill()
        busy.wait()
    assert 1 <= n <= max(1, cpus - 1), note
    assert note.startswith(f"{n} thread") and "auto" in note


def test_explicit_settings_win():
    assert threads.resolve_threads(3, None, recorded=2) == (3, "3 threads (--threads)")
    assert threads.resolve_threads(threads.LEAVE, None)[0] is None


def test_a_resumed_run_keeps_the_thread_count_it_started_with(tmp_path, monkeypatch):
    corpus = write_corpus(tmp_path, 900)
    idle = [2]
    monkeypatch.setattr(threads.LoadProbe, "idle_cores", lambda self: (idle[0], f"{idle[0]} of 2 cores idle"))
    trainer, summary = run_trainer(tiny_config(corpus, max_steps=6, threads=0), tmp_path / "run")
    assert summary["threads"] == 2 and ck.load_checkpoint(tmp_path / "run").state["threads"] == 2
    assert "2 threads (auto: 2 of 2 cores idle)" in trainer.logs[0]
    idle[0] = 1  # the machine got busier; the run goes on as it started, so that it stays bit-identical
    trainer, summary = run_trainer(tiny_config(corpus, max_steps=8, threads=0), tmp_path / "run", resume=True)
    assert summary["threads"] == 2 and "2 threads, as the run started with" in trainer.logs[0]
    trainer, summary = run_trainer(tiny_config(corpus, max_steps=10, threads=1), tmp_path / "run", resume=True)
    assert summary["threads"] == 1  # unless asked
