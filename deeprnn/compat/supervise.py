"""The learner's code runs in a child process, watched from outside.

Three processes, so that nothing the learner's code does can fool the check:

* the caller (``deeprnn check``, or ``check_module`` in Python) sends the job to a worker process,
  ``python -m deeprnn.compat.supervise``, started once and kept (it has numpy and deeprnn imported, and
  torch once a d2l job needed it), and receives the Report, pickled;
* the worker forks one child per job (a fresh subprocess where there is no fork). The child imports the
  learner's code and runs the checks (runner.py), telling the worker each step through a pipe: the
  function and case it starts, each result, and the start and end of every call of the learner's code;
* the worker enforces the time limit of each call. Past it (an endless loop, even one inside a bare
  ``except:`` that swallows every exception) it sends SIGUSR1, whose handler in the child answers with
  the learner's file:line that was running, and kills the child. A child whose pipe closes before it
  said "end" ended early (``os._exit(0)``, a crash, a signal).

Either way that function is reported as an error, in the case it was running, and a new child carries
on with the functions not yet checked. A learner's file that hangs or ends the process while it is being
imported is an import error: nothing passes.
"""

from __future__ import annotations

import atexit
import importlib
import os
import select
import signal
import subprocess
import sys
import threading
import time
import traceback

from . import _wire
from .learner import LearnerError
from .report import FunctionResult, Report
from .runner import Job, run
from .spec import COURSES

POLL = 0.2  # seconds between looks at a child that is running deeprnn's own code
WHERE_WAIT = 0.5  # seconds a hung child gets to say where it is before it is killed
_EOF = object()
_REPORTS_FD = None  # in the worker: the pipe its reports go to (a child closes it)


# ---- the caller's side -------------------------------------------------------------------------


class _Worker:
    """The worker process, started on first use and reused; one job at a time."""

    def __init__(self):
        self.proc, self.lock = None, threading.Lock()

    def run(self, job: Job) -> Report:
        with self.lock:
            if self.proc is None or self.proc.poll() is not None:
                self.proc = self._start()
            try:
                _wire.send(self.proc.stdin.fileno(), job)
                kind, payload = _wire.recv(self.proc.stdout.fileno())
            except (EOFError, OSError):
                self.proc = None
                raise RuntimeError("deeprnn check's worker process ended unexpectedly; please report it") from None
        if kind == "crash":
            raise RuntimeError(f"deeprnn check failed (a bug in deeprnn; please report it):\n{payload}")
        return payload

    @staticmethod
    def _start() -> subprocess.Popen:
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
        proc = subprocess.Popen([sys.executable, "-m", "deeprnn.compat.supervise"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, env=env)
        atexit.register(_stop, proc)
        return proc


def _stop(proc) -> None:
    if proc.poll() is None:
        proc.stdin.close()  # the worker ends when its input closes
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for pipe in (proc.stdin, proc.stdout):
        pipe.close()


WORKER = _Worker()


def run_job(job: Job) -> Report:
    """The Report of ``job``, from the worker process."""
    return WORKER.run(job)


def serve() -> None:
    """The worker: read jobs from stdin, write reports to stdout, until stdin closes."""
    global _REPORTS_FD
    out = _REPORTS_FD = os.dup(1)
    os.dup2(2, 1)  # nothing printed by accident can corrupt the reports
    while True:
        try:
            job = _wire.recv(0)
        except (EOFError, KeyboardInterrupt):
            return
        try:
            for name in COURSES[job.course].preload:  # before forking: each child then has it imported
                try:
                    importlib.import_module(name)
                except ImportError:
                    pass
            _wire.send(out, ("report", supervise(job)))
        except KeyboardInterrupt:
            return
        except Exception:  # noqa: BLE001 - a bug in deeprnn: the caller raises it with this traceback
            _wire.send(out, ("crash", traceback.format_exc()))


# ---- the worker's side: children and their supervision ---------------------------------------------


def supervise(job: Job) -> Report:
    """Run every check of ``job`` in child processes; the Report of all of them."""
    report = Report(job.course, job.path, job.seed, job.rtol, job.atol)
    results: dict[str, FunctionResult] = {}
    tried: set = set()  # the re-runs (borrow:NAME) already tried
    for _ in range(64):  # each new child gets further: a guard against code that always ends its child
        done = {name: r.status for name, r in results.items()} | {key: "tried" for key in tried}
        if _one_child(job, done, report, results, tried) == "done" or report.import_error is not None:
            break
    report.functions = list(results.values())
    return report


class _Child:
    """A child running ``child_main``: a forked process (POSIX) or a fresh interpreter."""

    def __init__(self, job: Job, done: dict):
        if hasattr(os, "fork"):
            r, w = os.pipe()
            self.pid = os.fork()
            if self.pid == 0:
                try:
                    os.close(r)
                    child_main(w, job, done)
                finally:
                    os._exit(0)
            os.close(w)
            self.fd, self.popen = r, None
        else:  # pragma: no cover - Windows
            self.popen = subprocess.Popen([sys.executable, "-m", "deeprnn.compat.supervise", "--child"],
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            _wire.send(self.popen.stdin.fileno(), (job, done))
            self.popen.stdin.close()
            self.pid, self.fd = self.popen.pid, self.popen.stdout.fileno()
            self._queue = _reader_thread(self.fd)
        self.exitcode = None

    def poll(self, timeout: float):
        """The next message, None if none came within ``timeout`` seconds, or _EOF."""
        if self.popen is not None:  # pragma: no cover - Windows
            try:
                return self._queue.get(timeout=timeout)
            except Exception:  # noqa: BLE001 - queue.Empty
                return None
        if not select.select([self.fd], [], [], timeout)[0]:
            return None
        try:
            return _wire.recv(self.fd)
        except Exception:  # noqa: BLE001 - closed, cut short by a kill, or garbage: the child is done
            return _EOF

    def signal(self, sig) -> None:
        try:
            os.kill(self.pid, sig)
        except OSError:
            pass

    def finish(self) -> int:
        """Kill the child if it still runs; its exit code (negative: the signal that ended it)."""
        if self.exitcode is None:
            if self.popen is not None:  # pragma: no cover - Windows
                self.popen.kill()
                self.exitcode = self.popen.wait()
            else:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
                if pid == 0:
                    self.signal(signal.SIGKILL)
                    _, status = os.waitpid(self.pid, 0)
                self.exitcode = os.waitstatus_to_exitcode(status)
                os.close(self.fd)
        return self.exitcode


def _reader_thread(fd):  # pragma: no cover - Windows, where pipes cannot be select()ed
    import queue

    q = queue.Queue()

    def read():
        while True:
            try:
                q.put(_wire.recv(fd))
            except Exception:  # noqa: BLE001
                q.put(_EOF)
                return

    threading.Thread(target=read, daemon=True).start()
    return q


def _one_child(job: Job, done: dict, report: Report, results: dict, tried: set) -> str:
    """Run one child until it ends: 'done', or 'again' after it hung or ended early."""
    child = _Child(job, done)
    current, case, progress, deadline = "import", None, [], 0.0
    try:
        while True:
            msg = child.poll(POLL if not deadline else max(0.0, deadline - time.monotonic()))
            if msg is None:
                if deadline and time.monotonic() >= deadline:
                    _record(current, case, progress, _hung(child, job.timeout), report, results)
                    return "again"
                continue
            if msg is _EOF:
                code = child.finish()
                how = f"killed by signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
                error = LearnerError("exception", f"your code ended the process ({how}: os._exit, an exit "
                                                  f"from C code, or a crash) before it returned")
                _record(current, case, progress, error, report, results)
                return "again"
            kind = msg[0]
            if kind == "call":
                deadline = time.monotonic() + job.timeout
            elif kind == "return":
                deadline = 0.0
            elif kind == "imported":
                report.import_error, current = msg[1], None
            elif kind == "skipped" and (msg[1], msg[2]) not in report.skipped:
                report.skipped.append((msg[1], msg[2]))
            elif kind == "start":
                current, case, progress = msg[1], None, []
            elif kind == "borrow":
                current, case = f"borrow:{msg[1]}", None
                tried.add(current)  # tried once, whatever happens: a later child does not repeat it
            elif kind == "case":
                case = msg[1]
            elif kind == "case done":
                progress.append((msg[1], msg[2]))
            elif kind == "result":
                results[msg[1].name], current = msg[1], None
            elif kind == "note":
                if msg[1] in results and msg[2] is not None:
                    results[msg[1]].note = msg[2]
                current = None
            elif kind == "crash":
                raise RuntimeError(f"in the child process:\n{msg[1]}")
            elif kind == "end":
                return "done"
    finally:
        child.finish()


def _hung(child: _Child, timeout: float) -> LearnerError:
    """Ask the child where it is (SIGUSR1), give it a moment to answer, then kill it."""
    where = None
    if hasattr(signal, "SIGUSR1"):
        child.signal(signal.SIGUSR1)
        end = time.monotonic() + WHERE_WAIT
        while where is None and time.monotonic() < end:
            msg = child.poll(max(0.0, end - time.monotonic()))
            if msg is _EOF:
                break
            if isinstance(msg, tuple) and msg[0] == "where":
                where = msg[1]
    child.finish()
    return LearnerError("exception", f"no result after {timeout:g} s (an endless loop?)", where)


def _record(current, case, progress: list, error: LearnerError, report: Report, results: dict) -> None:
    """The error of whatever the child was running: the import, a function, or a re-run (no note then)."""
    if current == "import":
        name = os.path.basename(os.path.normpath(report.path))
        report.import_error = LearnerError("import", f"importing {name} failed: {error.message}", error.where)
    elif current is not None and not current.startswith("borrow:"):
        res = FunctionResult(current, error=error, error_case=case, cases=list(progress))
        if case is not None:
            res.cases.append((case, False))
        results[current] = res


# ---- the child --------------------------------------------------------------------------------------


class _Watch:
    """Tells the worker when a call of the learner's code starts and ends (nested calls count once)."""

    def __init__(self, emit, timeout: float):
        self.emit, self.timeout, self.depth = emit, timeout, 0

    def start(self) -> None:
        self.depth += 1
        if self.depth == 1 and self.timeout:
            self.emit(("call",))

    def stop(self) -> None:
        self.depth -= 1
        if self.depth == 0 and self.timeout:
            self.emit(("return",))


def child_main(fd: int, job: Job, done: dict) -> None:
    """Run the job's checks, sending every step to the worker through ``fd``."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for std in (0, 1, 2):  # the learner's output, even below sys.stdout, reaches nobody
        os.dup2(devnull, std)
    if _REPORTS_FD is not None:
        os.close(_REPORTS_FD)
    os.chdir(job.path if os.path.isdir(job.path) else os.path.dirname(os.path.abspath(job.path)))

    def emit(message) -> None:
        _wire.send(fd, message)

    def on_load(learner) -> None:
        def tell_where(signum, frame):
            frames = []
            while frame is not None:
                frames.append((frame.f_code.co_filename, frame.f_lineno))
                frame = frame.f_back
            emit(("where", learner.frame_where(reversed(frames))))

        if hasattr(signal, "SIGUSR1"):
            signal.signal(signal.SIGUSR1, tell_where)

    try:
        run(job, emit, done, _Watch(emit, job.timeout), on_load)
    except BaseException:  # noqa: BLE001 - a bug of deeprnn: the caller raises it with this traceback
        emit(("crash", traceback.format_exc()))
    emit(("end",))


if __name__ == "__main__":
    if sys.argv[1:] == ["--child"]:  # pragma: no cover - Windows: one child per interpreter
        job_, done_ = _wire.recv(0)
        child_main(os.dup(1), job_, done_)
    else:
        serve()
