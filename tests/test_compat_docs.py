"""docs/learners.md: every line link points at the line it quotes, so the page stays right as code moves."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "learners.md"
LINK = re.compile(r"\[`([^`]+)`\]\(\.\./([^)#]+)#L(\d+)\)")


def test_every_line_link_quotes_its_line():
    text = DOC.read_text()
    links = LINK.findall(text)
    assert len(links) >= 40 and text.count("#L") == len(links)  # every line link has the quoted-code form
    wrong = []
    for fragment, path, line in links:
        lines = (ROOT / path).read_text().splitlines()
        if not (0 < int(line) <= len(lines) and fragment in lines[int(line) - 1]):
            now = [i + 1 for i, s in enumerate(lines) if fragment in s]
            wrong.append(f"{path}#L{line} should quote `{fragment}` (now at lines {now})")
    assert not wrong, "\n".join(wrong) + "\n(python scripts/relink_docs.py updates moved lines)"


def test_the_page_covers_every_course_and_the_engine_step_functions():
    text = DOC.read_text()
    for needle in ("deeprnn check mytorch", "deeprnn check hw3p1", "deeprnn check coursera", "deeprnn check d2l",
                   "deeprnn check needle", "Dinosaurus Island", "elman.py#L", "gru.py#L", "lstm.py#L", "weights.py#L",
                   "hw3p1.py#L", "dinosaurs.py#L", "d2l.py#L", "grid_needle.py#L", "def rnn_step_forward",
                   "lstm_cell_backward", "--format gradescope", "gradescope/", "Exit code"):
        assert needle in text, needle


def test_the_gradescope_sample_runs_deeprnn_check():
    folder = ROOT / "docs" / "gradescope"
    run = (folder / "run_autograder").read_text()
    assert run.startswith("#!/usr/bin/env bash") and '--format gradescope --output "$RESULTS"' in run
    assert "pip install" in (folder / "setup.sh").read_text()


def test_the_sample_run_autograder_writes_results_json(tmp_path):
    """docs/gradescope/run_autograder as Gradescope runs it, on a submission folder (paths from the environment)."""
    from test_compat_check_mytorch import LEARNER

    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "rnn.py").write_text(LEARNER)
    env = dict(os.environ, COURSE="mytorch", SUBMISSION=str(tmp_path / "submission"),
               RESULTS=str(tmp_path / "results" / "results.json"), BIN=os.path.dirname(sys.executable),
               PYTHONPATH=str(ROOT))
    proc = subprocess.run(["bash", str(ROOT / "docs" / "gradescope" / "run_autograder")], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0 and "7 of 7 functions match deeprnn: all match" in proc.stdout
    data = json.loads((tmp_path / "results" / "results.json").read_text())
    assert data["score"] == len(data["tests"]) == 14  # 7 functions, each as two tests
    env["SUBMISSION"] = str(tmp_path / "empty")
    proc = subprocess.run(["bash", str(ROOT / "docs" / "gradescope" / "run_autograder")], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0 and json.loads((tmp_path / "results" / "results.json").read_text())["score"] == 0
