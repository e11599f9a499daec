"""deeprnn serve: a local web page over one run: generate, read with the model's surprise, look inside."""

from __future__ import annotations

import sys

HELP = "serve a run on a local web page: generate, see the model's surprise, find what each unit tracks"


def add_arguments(p):
    p.add_argument("run", metavar="RUN_DIR")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default %(default)s: this machine "
                   "only; any other host is reachable by others, and the server has no authentication)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default %(default)s; 0 picks a free one)")
    p.add_argument("--last", action="store_true", help="serve the last checkpoint instead of the best weights")
    p.add_argument("--engine", choices=("numpy", "torch"), help="run on this engine (default: the run's)")
    p.add_argument("--device", choices=("cpu", "cuda", "auto"), help="the torch engine's device")
    p.add_argument("--threads", type=int, default=1, help="BLAS / torch threads (default %(default)s: one token at "
                   "a time gains nothing from more, and requests running side by side would fight over them; "
                   "0 = leave as is)")


def run(args) -> int:
    from .server import ServeError, bind, is_loopback, open_served, require_serve_extra, run_server, url_of

    require_serve_extra()
    if args.threads < 0:
        raise ServeError(f"expected --threads >= 0 (0 = leave as is), got {args.threads}")
    overrides = {k: v for k, v in (("engine", args.engine), ("device", args.device)) if v}
    served = open_served(args.run, "last" if args.last else "best", overrides)
    if args.threads:
        served.run.engine.limit_threads(args.threads)
    sock = bind(args.host, args.port)
    if not is_loopback(args.host):
        print(f"deeprnn: warning: listening on {args.host}, not on this machine only: anyone who can reach it can "
              "use this server, which has no authentication", file=sys.stderr)
    info = served.info()
    r = served.run
    print(f"[serve] {r.path} ({r.which} weights, step {r.step}, {r.engine.name} engine, "
          f"{info['parameters']:,} parameters)")
    print(f"[serve] excerpts: {served.val_note}" if served.val_text is not None
          else f"[serve] no excerpts: {served.val_note}")
    print(f"[serve] open {url_of(sock)}  (Ctrl-C stops)", flush=True)
    try:
        run_server(served, sock)
    except KeyboardInterrupt:  # uvicorn shut down gracefully, then passed the Ctrl-C on: the normal stop
        pass
    finally:
        sock.close()
    print("[serve] stopped")
    return 0
