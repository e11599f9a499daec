"""tasks.py, the README's two commands: what it echoes can be pasted into a shell."""

from __future__ import annotations

import importlib.util
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def tasks(monkeypatch):
    spec = importlib.util.spec_from_file_location("tasks", ROOT / "tasks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    calls = []
    monkeypatch.setattr(module.subprocess, "call", lambda argv, cwd: calls.append((argv, cwd)) or 0)
    module.calls = calls
    return module


CMD = ("-m", "deeprnn", "generate", "runs/demo", "--prefix", "the ", "--length", "300")


def test_the_echoed_command_is_quoted_with_the_real_program(tasks, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    assert tasks.run(*CMD) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("$ ")
    argv = shlex.split(line[2:])
    assert argv == [str(tasks.venv_python().relative_to(ROOT)), *CMD]  # "the " keeps its space
    (ran, cwd), = tasks.calls
    assert (Path(cwd) / argv[0]).resolve() == Path(ran[0]).resolve() and ran[1:] == list(CMD)


def test_from_another_directory_the_echo_says_where_to_run_it(tasks, monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    tasks.run(*CMD)
    argv = shlex.split(capsys.readouterr().out.strip()[2:])
    assert argv[:3] == ["cd", str(ROOT), "&&"] and argv[4:] == list(CMD)
