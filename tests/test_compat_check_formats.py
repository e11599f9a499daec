"""`deeprnn check --format gradescope|junit`: what autograders read, for every course."""

import json
import xml.etree.ElementTree as ET

import pytest
from test_compat_check_coursera import LEARNER as NOTEBOOK
from test_compat_check_mytorch import LEARNER, broken

from deeprnn.cli import main


def run_cli(capsys, *argv):
    code = main(["check", *map(str, argv)])
    out, err = capsys.readouterr()
    assert "Traceback (most recent call last)" not in out + err
    return code, out, err


def test_gradescope_results_json(tmp_path, capsys):
    learner = tmp_path / "rnn.py"  # a squeeze that breaks batch 1 and hidden 1 only
    learner.write_text(broken("        return self.activation.forward(z)\n",
                              "        return self.activation.forward(z).squeeze()\n"))
    results = tmp_path / "results" / "results.json"
    code, out, _ = run_cli(capsys, "mytorch", learner, "--format", "gradescope", "--output", results)
    assert code == 1 and "FAIL      RNNCell.forward" in out  # the report is printed too
    data = json.loads(results.read_text())
    tests = {t["name"]: t for t in data["tests"]}
    assert tests["RNNCell.forward (other cases)"]["score"] == 1.0
    failed = tests["RNNCell.forward (edge cases)"]
    assert failed["score"] == 0.0 and failed["max_score"] == 1.0 and failed["status"] == "failed"
    assert "wrong shape: expected h_t of shape (1, 1), got ()" in failed["output"]
    assert "failing edge cases: batch=1, input=1, hidden=1; batch=1, input=2, hidden=1; batch=1, input=3, hidden=2" \
           in failed["output"]
    assert set(tests) == {f"{name} ({half} cases)" for name in ("Tanh.forward", "Tanh.backward", "RNNCell.__init__",
                          "RNNCell.forward", "RNNCell.backward", "RNN.forward", "RNN.backward")
                          for half in ("edge", "other")}
    assert data["score"] == sum(t["score"] for t in data["tests"]) == sum(t["status"] == "passed" for t in data["tests"])
    assert set(data["tests"][0]) >= {"name", "score", "max_score", "output"}
    assert data["output"].startswith("deeprnn check mytorch")


def test_gradescope_default_file_and_an_import_failure(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    learner = tmp_path / "notebook.py"
    learner.write_text("def softmax(x)\n    pass\n")
    code, _, _ = run_cli(capsys, "coursera", learner, "--format", "gradescope")
    data = json.loads((tmp_path / "results.json").read_text())
    assert code == 1 and data["score"] == 0 and len(data["tests"]) > 9
    assert all(t["score"] == 0 and "not run: importing notebook.py failed: SyntaxError" in t["output"]
               for t in data["tests"])


@pytest.mark.parametrize("course, source", [("mytorch", LEARNER), ("coursera", NOTEBOOK)])
def test_junit_xml(tmp_path, capsys, course, source):
    learner = tmp_path / "code.py"
    learner.write_text(source.replace("return 1 - state ** 2", "return 1 - state").replace(
        "dtanh = (1 - a_next ** 2) * da_next", "dtanh = da_next"))
    code, out, _ = run_cli(capsys, course, learner, "--format", "junit")
    suite = ET.fromstring(out).find("testsuite")
    assert suite.get("name") == f"deeprnn check {course}" and int(suite.get("tests")) == len(suite.findall("testcase"))
    failures = [c for c in suite.findall("testcase") if c.find("failure") is not None]
    assert code == 1 and failures and int(suite.get("failures")) == len(failures)
    assert all(c.get("classname") == f"deeprnn.check.{course}" for c in suite.findall("testcase"))
    first = failures[0].find("failure")
    assert "first failure:" in first.text and first.get("message")
    skipped = [c for c in suite.findall("testcase") if c.find("skipped") is not None]
    assert len(skipped) == (1 if course == "coursera" else 0)  # Dinosaur Island, not in this file
    out_file = tmp_path / "junit.xml"
    assert run_cli(capsys, course, learner, "--format", "junit", "--output", out_file)[0] == 1
    assert ET.parse(out_file).getroot().find("testsuite").get("tests") == suite.get("tests")
