"""Fixtures and helpers for the tests of deeprnn.data (imported by tests/test_data_*.py).

A local HTTP server (http.server in a thread on 127.0.0.1, port 0) stands in for the download sites;
the real corpora come from the read-only folder ../shared/data next to the repository, if present.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@contextmanager
def serve_folder(folder: Path) -> Iterator[tuple[str, list[str]]]:
    """Serve ``folder`` over HTTP on 127.0.0.1; yield (base URL, list of request paths so far)."""
    requests: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(folder), **kwargs)

        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

        def log_message(self, *args):  # keep the test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def refused_url() -> str:
    """A URL on a local port nobody listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """An empty DEEPRNN_DATA cache folder; no mirror, and no proxy for the local server."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("DEEPRNN_DATA", str(folder))
    monkeypatch.delenv("DEEPRNN_MIRROR", raising=False)
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")
    return folder


@pytest.fixture
def shared_data() -> Path:
    """The folder with the real timemachine.txt and tinyshakespeare.txt (skip when absent)."""
    if not (SHARED_DATA / "timemachine.txt").is_file():
        pytest.skip(f"the real corpora are not available in {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def mirror(cache, shared_data, monkeypatch) -> Iterator[list[str]]:
    """DEEPRNN_MIRROR pointing at a local server of the real corpora; yields its request log."""
    with serve_folder(shared_data) as (url, requests):
        monkeypatch.setenv("DEEPRNN_MIRROR", url)
        yield requests
