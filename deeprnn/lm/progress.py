"""What a training shows while it runs: log lines on stderr, above a tqdm progress bar when tqdm is
installed (both optional: without tqdm, plain lines and no bar)."""

from __future__ import annotations

import sys


def log_line(msg: str) -> None:
    """Print a log line on stderr, above the progress bar when one is showing."""
    try:
        from tqdm import tqdm
    except ImportError:
        print(msg, file=sys.stderr, flush=True)
    else:
        tqdm.write(msg, file=sys.stderr)


def progress_bar(enabled: bool, total: int, initial: int):
    try:
        from tqdm import tqdm
    except ImportError:
        enabled = False
    if not enabled:
        return NoBar()
    return tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, leave=False, file=sys.stderr)


class NoBar:
    def update(self, n):
        pass

    def set_postfix(self, **kw):
        pass

    def close(self):
        pass
