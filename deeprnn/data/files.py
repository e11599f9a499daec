"""Atomic file output: write a temporary file beside the target, then ``os.replace`` it into place."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


@contextmanager
def atomic_output(path: str | os.PathLike, *, text: bool = False) -> Iterator[IO]:
    """Yield a file open for writing; on a clean exit it replaces ``path``, on an exception it is
    removed, so ``path`` is never partial. The temporary file is ``.<name>.<pid>.<random>.part`` in the
    same folder and gets the usual permissions (0o666 less the umask)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with (os.fdopen(fd, "w", encoding="utf-8") if text else os.fdopen(fd, "wb")) as f:
            yield f
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
