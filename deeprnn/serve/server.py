"""Running the app: open a run, listen on a socket, serve with uvicorn (in the foreground or a thread).

    from deeprnn.serve.server import open_served, BackgroundServer
    served = open_served("runs/demo")
    with BackgroundServer(served, port=0) as server:     # port 0: any free port
        print(server.url)                                # http://127.0.0.1:PORT/
"""

from __future__ import annotations

import ipaddress
import socket
import threading

from ..errors import DeeprnnError
from .requests import Limits
from .service import ServedRun, validation_text


class ServeError(DeeprnnError):
    """deeprnn serve cannot start: a missing extra, a port in use, a host that does not resolve."""


def require_serve_extra() -> None:
    missing = []
    for name in ("starlette", "uvicorn", "regex"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise ServeError(f"deeprnn serve needs the serve extra (missing {', '.join(missing)}): "
                         "pip install 'deeprnn[serve]'")


def open_served(run, which: str = "best", train_overrides: dict | None = None,
                limits: Limits | None = None) -> ServedRun:
    """Open ``run`` for serving, with its validation split as text for excerpts (when the corpus reads)."""
    from ..lm.runs import open_run

    opened = open_run(run, which, train_overrides)
    text, note = validation_text(opened)
    served = ServedRun(opened, limits, text, note)
    served.score({"text": "warm up"})  # the first call compiles the fused kernels (numba): not a user's wait
    return served


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0: a free one), or a ServeError saying why not."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ServeError(f"expected --port in [0, 65535] (0 = any free port), got {port!r}")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as e:
        raise ServeError(f"expected --host to be an address or a name of this machine, got {host!r} ({e})") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as e:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port} ({e.strerror or e}); choose another --port or --host") from None
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def make_server(served: ServedRun, sock: socket.socket):
    import uvicorn

    from .app import create_app

    loopback = is_loopback(sock.getsockname()[0])
    config = uvicorn.Config(create_app(served, loopback=loopback), log_level="warning", access_log=False,
                            lifespan="off", timeout_graceful_shutdown=2)
    return uvicorn.Server(config)


def run_server(served: ServedRun, sock: socket.socket) -> None:
    """Serve until Ctrl-C (uvicorn handles the signal and shuts down gracefully)."""
    make_server(served, sock).run(sockets=[sock])


class BackgroundServer:
    """The server in a daemon thread, for tests, notebooks and benchmarks; stops on exit of the block."""

    def __init__(self, served: ServedRun, host: str = "127.0.0.1", port: int = 0):
        self.sock = bind(host, port)
        self.url = url_of(self.sock)
        self.server = make_server(served, self.sock)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> "BackgroundServer":
        self.thread.start()
        while not self.server.started and self.thread.is_alive():
            self.thread.join(0.01)
        if not self.server.started:
            raise ServeError("the server thread stopped before it started")
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()
