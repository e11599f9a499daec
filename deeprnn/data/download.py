"""Named remote corpora: cache folder, mirror, checksum, atomic download.

    path = fetch("timemachine")      # downloads once, then returns the verified cached file

The cache folder is ``$DEEPRNN_DATA`` if set, else the user's cache folder (``$XDG_CACHE_HOME/deeprnn``
or ``~/.cache/deeprnn``; ``~/Library/Caches/deeprnn`` on macOS; ``%LOCALAPPDATA%/deeprnn/Cache`` on
Windows). ``$DEEPRNN_MIRROR`` replaces the published URL by ``<mirror>/<file name>``. A file is
downloaded to a temporary file in the cache folder, verified, then moved into place with
``os.replace``, so the cache never holds a partial or unverified file under its real name. A cached file
is verified again each time it is fetched; if it no longer matches it is downloaded again.
"""

from __future__ import annotations

import hashlib
import os
import sys
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .errors import CorpusError, DownloadError
from .files import atomic_output

_CHUNK = 1 << 16


@dataclass(frozen=True)
class RemoteFile:
    """A published text file and the checksum it must have."""

    filename: str   # name in the cache folder and on a mirror
    url: str        # published address
    algorithm: str  # hashlib name: "sha1" or "sha256"
    digest: str     # expected hex digest
    size: int | None = None  # bytes, when published

    @property
    def algorithm_label(self) -> str:
        return {"sha1": "SHA-1", "sha256": "SHA-256"}.get(self.algorithm, self.algorithm.upper())


REMOTE: dict[str, RemoteFile] = {
    "timemachine": RemoteFile(
        "timemachine.txt", "http://d2l-data.s3-accelerate.amazonaws.com/timemachine.txt",
        "sha1", "090b5e7e70c295757f55df93cb0a180b9691891a"),
    "tinyshakespeare": RemoteFile(
        "tinyshakespeare.txt",
        "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
        "sha256", "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed", size=1_115_394),
}


def cache_dir() -> Path:
    """The folder holding downloaded corpora (not created here)."""
    override = os.environ.get("DEEPRNN_DATA")
    if override:
        return Path(override).expanduser()
    home = Path.home()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA")
        return (Path(base) if base else home / "AppData" / "Local") / "deeprnn" / "Cache"
    if sys.platform == "darwin":
        return home / "Library" / "Caches" / "deeprnn"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else home / ".cache"  # the XDG spec ignores relative paths
    return base / "deeprnn"


def source_url(remote: RemoteFile) -> str:
    """Where ``remote`` is downloaded from: ``$DEEPRNN_MIRROR/<file name>`` if a mirror is set."""
    mirror = os.environ.get("DEEPRNN_MIRROR", "").strip()
    return f"{mirror.rstrip('/')}/{remote.filename}" if mirror else remote.url


def file_digest(path: str | os.PathLike, algorithm: str) -> str:
    """The hex digest of a file's bytes."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _mismatch(remote: RemoteFile, actual: str) -> str:
    return f"{remote.filename}: expected {remote.algorithm_label} {remote.digest}, got {actual}"


def _download(url: str, out: BinaryIO, remote: RemoteFile, target: Path, timeout: float) -> str:
    """Stream ``url`` into ``out``; return the digest of the bytes written (DownloadError on failure)."""
    h = hashlib.new(remote.algorithm)
    failed = f"{remote.filename}: download from {url} failed"
    hint = f"set DEEPRNN_MIRROR to a mirror folder URL, or put the file at {target}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                h.update(chunk)
                out.write(chunk)
    except urllib.error.HTTPError as e:
        raise DownloadError(f"{failed}: HTTP {e.code} {e.reason} ({hint})") from e
    except urllib.error.URLError as e:
        raise DownloadError(f"{failed}: {e.reason} ({hint})") from e
    except (OSError, ValueError) as e:  # timeouts, resets, a full disk, malformed URLs
        raise DownloadError(f"{failed}: {e} ({hint})") from e
    return h.hexdigest()


def fetch(name: str, *, timeout: float = 60.0) -> Path:
    """The verified local copy of the named remote corpus, downloading it if needed.

    Raises DownloadError when the download fails or its checksum differs (naming expected vs actual).
    """
    if name not in REMOTE:
        raise CorpusError(f"unknown remote corpus {name!r}; known: {', '.join(sorted(REMOTE))}")
    remote = REMOTE[name]
    folder = cache_dir()
    target = folder / remote.filename
    if target.is_file():
        actual = file_digest(target, remote.algorithm)
        if actual == remote.digest:
            return target
        warnings.warn(f"cached {_mismatch(remote, actual)}; downloading it again", stacklevel=2)

    url = source_url(remote)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_output(target) as out:  # leaves no file behind unless the block completes
            actual = _download(url, out, remote, target, timeout)
            if actual != remote.digest:
                raise DownloadError(f"{_mismatch(remote, actual)} (downloaded from {url})")
    except DownloadError:
        raise
    except OSError as e:
        raise DownloadError(f"{remote.filename}: cannot write to the cache folder {folder}: "
                            f"{e.strerror or e} (set DEEPRNN_DATA to another folder)") from e
    # Like torchvision's downloads: one line on stderr, so a user sees where the file came from and went.
    print(f"[data] downloaded {url} -> {target} ({target.stat().st_size:,} bytes, "
          f"{remote.algorithm_label} verified)", file=sys.stderr, flush=True)
    return target
