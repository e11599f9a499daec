"""Multi-process training on CPU: ``torchrun --nproc_per_node=2 -m deeprnn train --engine torch --distributed``.

Two real launches (gloo on loopback, OMP_NUM_THREADS=1): a tiny LSTM trained to step K, then resumed
to step N. They must exit 0; rank 0 alone prints the JSON summary ("processes": 2, "ranks_identical":
true) and alone writes the run folder (an audit hook in each worker records its writes); with the same
global batch, every step's training loss and the final weights equal a single-process ``--engine torch``
run's within float tolerance. Dropout is 0 (each rank draws its own dropout masks), the optimizer is SGD
with momentum and no clipping, so a wrong gradient average would change the weights, not only the loss.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from deeprnn.lm import checkpoint as ck
from lm_helpers import assert_one_line_error, cli, metrics, no_plots, weights, write_corpus
from torch_helpers import free_port, max_rel_diff, needs_torch, timeout, torch, torch_one_thread

pytestmark = [
    needs_torch,
    pytest.mark.skipif(torch is not None and not torch.distributed.is_available(),
                       reason="torch.distributed is not available"),
    pytest.mark.skipif(sys.platform == "win32", reason="torchrun with gloo on Windows is not supported here"),
    pytest.mark.usefixtures("no_plots", "torch_one_thread"),
]
assert no_plots and torch_one_thread  # fixtures, imported for pytestmark

K, N = 4, 8  # the first launch stops at step K (max_steps), the resumed one at N
LAUNCH_TIMEOUT = 150  # seconds per torchrun launch
TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "MASTER_ADDR", "MASTER_PORT",
                "TORCHELASTIC_RUN_ID")


def flags(corpus) -> list[str]:
    """The tiny run, the same for one process and two: global batch 4 (2 streams per rank)."""
    return ["--corpus", str(corpus), "--splits", "0.8", "0.2", "0", "--cell", "lstm", "--layers", "2",
            "--hidden", "12", "--embedding", "6", "--dropout", "0", "--output-dropout", "0", "--batch-size", "4",
            "--num-steps", "8", "--eval-streams", "4", "--optimizer", "sgd", "--momentum", "0.9", "--lr", "0.5",
            "--schedule", "constant", "--clip", "none", "--seed", "3", "--eval-every", "1", "--no-progress"]


# Installed in every worker through PYTHONPATH (a sitecustomize.py). Each worker records its pid (so a
# hung launch can be cleaned up) and, per rank, each write under DEEPRNN_TEST_WATCH (files opened for
# writing, renames, links, removals, new folders) into DEEPRNN_TEST_LOGS/rank<R>.txt. DEEPRNN_TEST_FAIL
# "R:S" makes rank R raise a user-facing error (a DeeprnnError) at its S-th training batch.
SITECUSTOMIZE = r'''
import os
import sys

_watch, _logs = os.environ.get("DEEPRNN_TEST_WATCH"), os.environ.get("DEEPRNN_TEST_LOGS")
if _watch and _logs and "RANK" in os.environ:
    _rank, _busy = os.environ["RANK"], []
    _WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    with open(os.path.join(_logs, "pid%s-%d" % (_rank, os.getpid())), "w"):
        pass

    def _record(event, path):
        try:
            p = os.path.abspath(os.fsdecode(path))
        except TypeError:  # a file descriptor
            return
        if p == _watch or p.startswith(_watch + os.sep):
            _busy.append(1)
            try:
                with open(os.path.join(_logs, "rank%s.txt" % _rank), "a") as f:
                    f.write("%s %s\n" % (event, p))
            finally:
                _busy.pop()

    def _hook(event, args):
        if _busy:
            return
        if event == "open":
            mode = args[1] if isinstance(args[1], str) else ""
            flags = args[2] if isinstance(args[2], int) else 0
            if flags & _WRITE or any(c in mode for c in "wax+"):
                _record(event, args[0])
        elif event in ("os.rename", "os.link", "os.symlink"):
            _record(event, args[0])
            _record(event, args[1])
        elif event in ("os.remove", "os.mkdir", "os.rmdir", "os.truncate"):
            _record(event, args[0])

    sys.addaudithook(_hook)

    _fail = os.environ.get("DEEPRNN_TEST_FAIL", "").split(":")
    if _fail[0] == _rank:
        import deeprnn.lm.engines.torch as _lm
        from deeprnn.errors import DeeprnnError

        _real, _calls = _lm.TorchLM.forward_backward, []

        def _failing(self, x, y, state):
            _calls.append(1)
            if len(_calls) == int(_fail[1]):
                raise DeeprnnError("injected failure on rank %s at step %s" % (_rank, _fail[1]))
            return _real(self, x, y, state)

        _lm.TorchLM.forward_backward = _failing
'''


def _torchrun() -> list[str]:
    exe = Path(sys.executable).with_name("torchrun")
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "torch.distributed.run"]


def _port_clash(stderr: str) -> bool:
    text = stderr.lower()
    return "address already in use" in text or "eaddrinuse" in text or "errno: 98" in text


def launch(tmp: Path, watch: Path, *argv, nproc: int = 2, limit: float = LAUNCH_TIMEOUT,
           env_extra: dict | None = None) -> subprocess.CompletedProcess:
    """``torchrun --nproc_per_node=2 -m deeprnn ARGV`` on a free loopback port (retried once if the port
    was taken meanwhile). Output goes to files, so a worker outliving torchrun cannot block the test;
    after ``limit`` seconds torchrun gets SIGTERM (it stops its workers), then any survivor SIGKILL."""
    hooks, logs = tmp / "hooks", tmp / "logs"
    hooks.mkdir(exist_ok=True)
    logs.mkdir(exist_ok=True)
    (hooks / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in TORCHRUN_ENV}
    env.update(OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", DEEPRNN_TEST_WATCH=os.path.abspath(watch),
               DEEPRNN_TEST_LOGS=str(logs), **(env_extra or {}),
               PYTHONPATH=os.pathsep.join([str(hooks), *filter(None, [env.get("PYTHONPATH")])]))
    if sys.platform.startswith("linux"):
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")
    for attempt in range(2):
        cmd = [*_torchrun(), f"--nproc_per_node={nproc}", "--nnodes=1", "--master_addr=127.0.0.1",
               f"--master_port={free_port()}", "-m", "deeprnn", *map(str, argv)]
        out_path, err_path = tmp / f"launch-{attempt}.out", tmp / f"launch-{attempt}.err"
        with open(out_path, "w") as out, open(err_path, "w") as err:
            proc = subprocess.Popen(cmd, cwd=tmp, env=env, stdout=out, stderr=err, start_new_session=True)
            try:
                proc.wait(timeout=limit)
                hung = False
            except subprocess.TimeoutExpired:
                hung = True
                _stop(proc, logs)
        result = subprocess.CompletedProcess(cmd, proc.returncode, out_path.read_text(), err_path.read_text())
        for pid_file in logs.glob("pid*"):
            pid_file.unlink()
        if hung:
            pytest.fail(f"torchrun did not finish within {limit:g} s (a hang):\n{result.stderr[-3000:]}")
        if result.returncode == 0 or attempt or not _port_clash(result.stderr):
            return result
    return result


def _stop(proc: subprocess.Popen, logs: Path) -> None:
    """SIGTERM to torchrun (it stops its workers); after 30 s, SIGKILL to it and to the workers it started."""
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    for pid_file in logs.glob("pid*"):
        try:
            os.kill(int(pid_file.name.split("-")[1]), signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass  # already gone


def writes_by_rank(tmp: Path) -> dict[str, list[str]]:
    """{"0": [...], "1": [...]} the writes each rank made under the watched folder (and clear the logs)."""
    out = {}
    for path in sorted((tmp / "logs").glob("rank*.txt")):
        out[path.stem[4:]] = path.read_text(encoding="utf-8").splitlines()
        path.unlink()
    return out


def summary_line(result: subprocess.CompletedProcess) -> dict:
    """The exit code is 0 and stdout holds exactly one line, rank 0's JSON summary."""
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stderr[-4000:]}"
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, result.stdout
    summary = json.loads(lines[0])
    assert summary["processes"] == 2 and summary["ranks_identical"] is True, summary
    assert "Traceback" not in result.stderr, result.stderr[-4000:]
    assert result.stderr.count("| torch engine") == 1  # rank 0 logs, rank 1 does not
    return summary


@pytest.fixture(scope="module")
def launches(tmp_path_factory):
    """Two launches on one run folder: to step K, then --resume to step N. Returns their results, the
    metrics after the first, and each launch's writes by rank."""
    tmp = tmp_path_factory.mktemp("ddp")
    corpus = write_corpus(tmp, 1500)
    run = tmp / "run"
    first = launch(tmp, run, "train", "--engine", "torch", "--distributed", *flags(corpus), "--out", run,
                   "--max-steps", K, "--json")
    first_writes = writes_by_rank(tmp)
    if first.returncode != 0:
        pytest.fail(f"the first torchrun launch failed (exit {first.returncode}):\n{first.stderr[-4000:]}")
    first_metrics = metrics(run)
    resumed = launch(tmp, run, "train", "--engine", "torch", "--distributed", "--resume", run, "--max-steps", N,
                     "--json", "--no-progress")
    return {"tmp": tmp, "corpus": corpus, "run": run, "first": first, "resumed": resumed,
            "first_metrics": first_metrics, "writes": [first_writes, writes_by_rank(tmp)]}


@pytest.fixture(scope="module")
def single(launches, tmp_path_factory):
    """The same run in one process (--engine torch, no --distributed), uninterrupted to step N."""
    run = tmp_path_factory.mktemp("single") / "run"
    from deeprnn.cli import main
    from deeprnn.lm import train as train_module

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(train_module, "_plot", lambda run: None)
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            assert main(["train", "--engine", "torch", *flags(launches["corpus"]), "--out", str(run),
                         "--max-steps", str(N), "--json"]) == 0
        finally:
            torch.set_num_threads(before)
    return run


@timeout(600)
def test_two_processes_exit_0_and_rank0_alone_reports(launches):
    for name, steps in (("first", K), ("resumed", N)):
        summary = summary_line(launches[name])
        assert summary["steps"] == steps and summary["tokens"] == steps * 4 * 8  # the global batch
        assert summary["stop_reason"] == f"max_steps={steps} reached"
    state = ck.load_checkpoint(launches["run"]).state
    assert len(state["rng"]["torch_ranks"]) == 2  # each rank's dropout RNG state, gathered


@timeout(600)
def test_only_rank0_writes_the_run_folder(launches):
    run = launches["run"]
    for writes in launches["writes"]:
        assert set(writes) <= {"0", "1"}, writes
        written = {Path(line.split(" ", 1)[1]).name for line in writes.get("0", [])}
        # the audit hook works: rank 0's writes are seen
        assert {"metrics.jsonl", ck.STATE, ck.MODEL, ck.OPTIM} <= written, sorted(written)
        assert writes.get("1", []) == []  # rank 1 wrote nothing there
    assert (run / ck.CONFIG).is_file() and (run / ck.VOCAB).is_file() and (run / "best" / ck.MODEL).is_file()
    leftovers = [p.name for p in run.iterdir() if p.name.startswith(".")]
    assert leftovers == []  # no temporary files of a second writer
    steps = [r["step"] for r in metrics(run)]
    assert steps == list(range(1, N + 1))  # one row per step: written once, not once per rank


@timeout(600)
def test_loss_curve_matches_one_process(launches, single):
    summary_line(launches["first"])
    distributed, one = launches["first_metrics"], metrics(single)
    assert [r["step"] for r in distributed] == list(range(1, K + 1))
    for key in ("train_loss", "val_loss"):
        np.testing.assert_allclose([r[key] for r in distributed], [r[key] for r in one[:K]], rtol=1e-5)
    assert distributed[-1]["train_loss"] < distributed[0]["train_loss"]  # it does learn


@timeout(600)
def test_distributed_resume_matches_the_uninterrupted_single_process_run(launches, single):
    summary_line(launches["resumed"])
    run = launches["run"]
    rows, one = metrics(run), metrics(single)
    assert [r["step"] for r in rows] == [r["step"] for r in one] == list(range(1, N + 1))
    for key in ("train_loss", "val_loss"):
        np.testing.assert_allclose([r[key] for r in rows], [r[key] for r in one], rtol=1e-5)
    assert max_rel_diff(weights(run), weights(single)) < 1e-4
    a, b = ck.load_checkpoint(run).optimizer, ck.load_checkpoint(single).optimizer
    assert sorted(a) == sorted(b) and {"carry.h", "carry.c"} <= set(a)
    assert int(a["step"][0]) == int(b["step"][0]) == N
    # momentum buffers, and the carried state gathered from both ranks (all 4 streams)
    assert a["carry.h"].shape == (2, 4, 12)
    assert max_rel_diff({k: v for k, v in a.items() if k != "step"}, {k: v for k, v in b.items() if k != "step"}) < 1e-4


def test_distributed_without_torchrun_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    for var in TORCHRUN_ENV:
        monkeypatch.delenv(var, raising=False)
    corpus = write_corpus(tmp_path, 1500)
    run = tmp_path / "run"
    code, out, err = cli(capsys, "train", "--engine", "torch", "--distributed", *flags(corpus), "--out", run,
                         "--max-steps", 2)
    assert_one_line_error(code, err, "--distributed", "torchrun", "RANK")
    assert out == "" and not run.exists()
    assert not torch.distributed.is_initialized()


@timeout(600)
def test_an_error_on_one_rank_ends_the_job_instead_of_hanging(tmp_path):
    """Rank 1 fails at step 3 while rank 0 waits for it in the gradient all-reduce: rank 1 must leave
    (a one-line error, exit 2) without a barrier, so the job fails within seconds."""
    corpus = write_corpus(tmp_path, 1500)
    run = tmp_path / "run"
    start = time.monotonic()
    result = launch(tmp_path, run, "train", "--engine", "torch", "--distributed", *flags(corpus), "--out", run,
                    "--max-steps", 6, "--json", limit=90, env_extra={"DEEPRNN_TEST_FAIL": "1:3"})
    assert result.returncode != 0
    assert "deeprnn: error: injected failure on rank 1 at step 3" in result.stderr
    assert result.stdout.strip() == ""  # no summary
    assert time.monotonic() - start < 90


def test_each_rank_takes_a_contiguous_slice_of_the_streams():
    from deeprnn.torch_engine.distributed import World

    assert [World(r, 2).columns(4) for r in range(2)] == [slice(0, 2), slice(2, 4)]
    assert [World(r, 3).columns(6) for r in range(3)] == [slice(0, 2), slice(2, 4), slice(4, 6)]
    assert World().columns(5) == slice(0, 5)
    with pytest.raises(ValueError, match="expected batch_size divisible by the 2 processes, got 5"):
        World(1, 2).columns(5)
