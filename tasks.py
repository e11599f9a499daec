#!/usr/bin/env python3
"""deeprnn's two everyday jobs. Each creates ./.venv and installs what it needs on first use.

    python3 tasks.py demo    # train a 2-layer LSTM on the built-in corpus (~2 minutes), evaluate, sample, plot
    python3 tasks.py test    # run the test suite (installs the dev tools, torch==2.13.0 as the reference)

Extra arguments go to the job: ``python3 tasks.py test -k gradcheck``, ``python3 tasks.py demo --time-budget 30``.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
EXTRAS = {"demo": "lm,fast", "test": "dev"}


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def setup(extras: str) -> None:
    """Create the virtual environment and install deeprnn (editable) with ``extras``, once per change
    of pyproject.toml."""
    if sys.version_info < (3, 10):
        sys.exit(f"deeprnn needs Python >= 3.10, got {sys.version.split()[0]}")
    if not venv_python().exists():
        print(f"[setup] creating {VENV}", flush=True)
        venv.create(VENV, with_pip=True)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]
    stamp = VENV / f".deeprnn-{extras.replace(',', '-')}-{digest}"
    if not stamp.exists():
        print(f"[setup] installing deeprnn[{extras}] into {VENV}", flush=True)
        subprocess.check_call([str(venv_python()), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                               "-e", f"{ROOT}[{extras}]"])
        stamp.touch()


def shown(*cmd: str) -> str:
    """The command line that ``run(*cmd)`` runs, quoted so that it can be pasted into a shell."""
    line = shlex.join([str(venv_python().relative_to(ROOT)), *cmd])
    return line if Path.cwd().resolve() == ROOT else f"cd {shlex.quote(str(ROOT))} && {line}"


def run(*cmd: str) -> int:
    print("$ " + shown(*cmd), flush=True)
    return subprocess.call([str(venv_python()), *cmd], cwd=ROOT)


def demo(args: list[str]) -> int:
    setup(EXTRAS["demo"])
    out = "runs/demo"
    code = run("-m", "deeprnn", "train", "--preset", "builtin-lstm", "--time-budget", "100", "--out", out,
               "--overwrite", *args)
    if code == 0:
        code = run("-m", "deeprnn", "generate", out, "--prefix", "the ", "--length", "300", "--temperature", "0.8",
                   "--seed", "0")
    if code == 0:
        print(f"\nplot: {out}/curves.png   metrics: {out}/metrics.jsonl   resume: deeprnn train --resume {out}")
    return code


def test(args: list[str]) -> int:
    setup(EXTRAS["test"])
    return run("-m", "pytest", *args)


if __name__ == "__main__":
    jobs = {"demo": demo, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in jobs:
        sys.exit(__doc__)
    sys.exit(jobs[sys.argv[1]](sys.argv[2:]))
