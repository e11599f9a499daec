"""The deeprnn serve command: where it listens, what it prints, its one-line errors, and a real process
that serves and stops on Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

pytest.importorskip("starlette")

from deeprnn.serve import server as server_module  # noqa: E402
from lm_helpers import assert_one_line_error, cli  # noqa: E402
from serve_helpers import run  # noqa: E402

assert run  # a fixture


@pytest.fixture
def captured(monkeypatch):
    """Run the command up to the point where it would serve; keep what it would serve and on what."""
    seen = {}

    def fake_run_server(served, sock):
        seen["served"], seen["address"] = served, sock.getsockname()

    monkeypatch.setattr(server_module, "run_server", fake_run_server)
    return seen


def test_listens_on_this_machine_only_by_default(run, captured, capsys):
    code, out, err = cli(capsys, "serve", run, "--port", 0)
    assert code == 0 and err == ""
    host, port = captured["address"][:2]
    assert host == "127.0.0.1" and port > 0
    assert f"open http://127.0.0.1:{port}/" in out and "best weights" in out
    assert captured["served"].run.which == "best"


def test_another_host_prints_a_warning(run, captured, capsys):
    code, out, err = cli(capsys, "serve", run, "--host", "0.0.0.0", "--port", 0, "--last")
    assert code == 0 and captured["address"][0] == "0.0.0.0"
    assert err.startswith("deeprnn: warning: listening on 0.0.0.0") and "no authentication" in err
    assert captured["served"].run.which == "last"


def test_the_torch_engine_serves_the_same_model(run, captured, capsys):
    pytest.importorskip("torch")
    code, out, _ = cli(capsys, "serve", run, "--engine", "torch", "--port", 0)
    assert code == 0 and "torch engine" in out
    torch_served = captured["served"]
    assert torch_served.run.engine.name == "torch"
    cli(capsys, "serve", run, "--port", 0)
    numpy_served = captured["served"]
    a, b = (s.score({"text": "The value of x"})["steps"][1:] for s in (torch_served, numpy_served))
    assert [s["p"] for s in a] == pytest.approx([s["p"] for s in b], abs=1e-5)


def test_errors_are_one_line(run, tmp_path, capsys):
    code, _, err = cli(capsys, "serve", tmp_path / "missing")
    assert_one_line_error(code, err, "expected a run folder")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code, _, err = cli(capsys, "serve", run, "--port", port)
        assert_one_line_error(code, err, f"cannot listen on 127.0.0.1:{port}", "choose another --port")
    code, _, err = cli(capsys, "serve", run, "--port", 70000)
    assert_one_line_error(code, err, "expected --port in [0, 65535]", "70000")
    code, _, err = cli(capsys, "serve", run, "--host", "no-such-host.invalid", "--port", 0)
    assert_one_line_error(code, err, "expected --host to be an address or a name of this machine")


def test_a_missing_serve_extra_says_how_to_install_it(run, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "starlette", None)  # import starlette now raises ImportError
    code, _, err = cli(capsys, "serve", run)
    assert_one_line_error(code, err, "deeprnn serve needs the serve extra (missing starlette)",
                          "pip install 'deeprnn[serve]'")


def test_a_real_server_process_answers_and_stops_on_ctrl_c(run):
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "deeprnn", "serve", str(run), "--port", "0"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url, lines = None, []
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "open http://" in line:
                url = line.split("open ", 1)[1].split()[0]
        assert url, (lines, proc.stderr.read() if proc.poll() is not None else "")
        info = json.loads(urllib.request.urlopen(url + "api/info", timeout=30).read())
        assert info["run"] == run.name
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
        assert proc.stdout.read().strip().endswith("[serve] stopped")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
