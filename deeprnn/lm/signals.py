"""Stopping a training gracefully: Ctrl-C (SIGINT) and SIGTERM (``kill PID``, a job scheduler, systemd)
both finish the current step, evaluate, save a checkpoint and stop.

    first SIGINT / SIGTERM    finish the step, checkpoint, stop: ``deeprnn train`` exits 130 / 143
                              (128 + the signal number, what the shell shows for a killed process)
    a second one              stop at once, without saving: KeyboardInterrupt (exit 130) / exit 143;
                              the last checkpoint stays as it was
"""

from __future__ import annotations

import signal
from contextlib import contextmanager

# signal -> (the run's stop_reason, what the user did, the exit code of ``deeprnn train``)
STOPS = {signal.SIGINT: ("interrupted", "Ctrl-C", 130), signal.SIGTERM: ("terminated", "SIGTERM", 143)}
STOP_EXIT_CODES = {reason: code for reason, _, code in STOPS.values()}


@contextmanager
def graceful_stop(trainer):
    """While inside: the first stop signal calls ``trainer.request_stop(reason)``; the second stops at once."""
    def handler(signum, frame):
        reason, what, code = STOPS[signum]
        if trainer.stop_requested:
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            trainer.log(f"\n[train] {what} again: stopping at once, without saving")
            raise SystemExit(code)
        trainer.log(f"\n[train] {reason} ({what}): finishing this step and saving a checkpoint "
                    f"({what} again stops at once)")
        trainer.request_stop(reason)

    previous = {}
    try:
        for signum in STOPS:
            previous[signum] = signal.signal(signum, handler)
    except ValueError:  # not the main thread: signals stay as they are
        pass
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
