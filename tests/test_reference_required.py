"""conftest.require: a missing reference (torch) skips a test, saying why, outside CI, and fails it under
CI=true, so that a CI run cannot pass without the comparisons it exists for."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import require

TESTS = Path(__file__).resolve().parent

# Two modules like the suite's torch-dependent ones, in a process where torch cannot be imported: one
# asks at module level, one through the needs_torch mark.
PROBES = {
    "test_probe_module.py": """
import sys
sys.modules["torch"] = None  # any `import torch` now raises ImportError
from conftest import require
torch = require("torch")

def test_compares_with_torch():
    assert torch is not None
""",
    "test_probe_mark.py": """
import sys
sys.modules["torch"] = None
from conftest import torch_reference  # noqa: F401 (the fixture behind needs_torch)
from torch_helpers import needs_torch

@needs_torch
def test_compares_with_torch():
    pass
""",
}


def _outcome(call) -> pytest.ExceptionInfo:
    """What ``call`` raised, even a pytest outcome (skip, fail: BaseExceptions), caught for inspection."""
    with pytest.raises(BaseException) as info:
        call()
    return info


@pytest.mark.parametrize("ci", ["true", "TRUE", "1"])
def test_a_missing_module_fails_under_ci(monkeypatch, ci):
    monkeypatch.setenv("CI", ci)
    monkeypatch.setitem(sys.modules, "torch", None)
    outcome = _outcome(lambda: require("torch"))  # a skip raised here would otherwise skip this test
    assert outcome.type is pytest.fail.Exception, outcome
    assert "CI=true and the reference torch is missing" in str(outcome.value)


@pytest.mark.parametrize("ci", [None, "", "false", "0"])
def test_a_missing_module_skips_with_the_reason_outside_ci(monkeypatch, ci):
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    monkeypatch.setitem(sys.modules, "torch", None)
    outcome = _outcome(lambda: require("torch"))
    assert outcome.type is pytest.skip.Exception, outcome
    assert "torch is not installed" in str(outcome.value)


def test_a_present_module_is_returned_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    assert require("numpy") is np


def _run_probes(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess:
    for name, source in PROBES.items():
        (tmp_path / name).write_text(source, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    if ci is not None:
        env["CI"] = ci
    argv = [sys.executable, "-m", "pytest", "-rs", "-p", "no:cacheprovider", "--continue-on-collection-errors",
            "--rootdir", str(tmp_path), str(tmp_path)]
    return subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_a_suite_without_torch_skips_saying_why(tmp_path):
    p = _run_probes(tmp_path, ci=None)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "2 skipped" in p.stdout and "torch is not installed" in p.stdout, p.stdout


def test_a_suite_without_torch_fails_under_ci(tmp_path):
    p = _run_probes(tmp_path, ci="true")
    assert p.returncode != 0, p.stdout + p.stderr
    assert "skipped" not in p.stdout, p.stdout
    assert p.stdout.count("CI=true and the reference torch is missing") >= 2, p.stdout
