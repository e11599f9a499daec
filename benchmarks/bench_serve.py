"""deeprnn serve under load: N concurrent clients against a real server process, for a fixed time.

    python benchmarks/bench_serve.py runs/demo                        # 8 clients, 20 s
    python benchmarks/bench_serve.py runs/demo --clients 4 --seconds 60 --length 300

The server is ``deeprnn serve RUN --port 0`` in its own process. Each client (an asyncio task with its
own HTTP connection) loops over --mix: by default a streamed generation of --length tokens, then a
score of a --text-chars text, and so on. Reported per kind: requests, requests/s, p50 and p99 latency (for a generation: to
the last token, and to the first), tokens/s streamed over all clients, and errors (any non-200 answer
or failed connection; they must be none). The reference, measured in the same run in this process
before the load starts, is the library's own ``generate()`` on one thread: the streamed tokens/s of all
clients over it (with --mix generate, so that scoring takes no share of the server) says what the
server adds or loses against sampling in a loop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import httpx

TEXT = ('The "object" (an int) is returned by len() here, and by "count()" there.\n' * 20)


def start_server(run: str, threads: int):
    env = {**os.environ, "OPENBLAS_NUM_THREADS": str(threads)}
    proc = subprocess.Popen([sys.executable, "-m", "deeprnn", "serve", run, "--port", "0", "--threads", str(threads)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    for line in proc.stdout:
        if "open http://" in line:
            return proc, line.split("open ", 1)[1].split()[0]
    raise SystemExit(f"the server did not start: {proc.stderr.read()}")


def reference_tokens_per_s(run: str, length: int, seconds: float = 3.0) -> float:
    """The library's generate() on one thread, in this process: tokens/s."""
    from threadpoolctl import threadpool_limits

    from deeprnn.lm.generate import generate
    from deeprnn.lm.runs import open_run

    r = open_run(run)
    with threadpool_limits(1, user_api="blas"):
        generate(r.engine, r.vocab, "The ", 20, seed=0)  # warm up (numba kernels compile)
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            n += len(generate(r.engine, r.vocab, "The ", length, seed=n))
    return n / (time.perf_counter() - t0)


async def client(url: str, stop_at: float, args, out: dict) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=60) as c:
        i = 0
        while time.perf_counter() < stop_at:
            kind = args.mix[i % len(args.mix)]
            t0 = time.perf_counter()
            try:
                if kind == "generate":
                    first, tokens, event = None, 0, ""
                    async with c.stream("POST", "/api/generate", json={"length": args.length, "seed": i}) as r:
                        if r.status_code != 200:
                            raise RuntimeError(f"HTTP {r.status_code}: {await r.aread()!r}")
                        async for line in r.aiter_lines():
                            if line.startswith("event: "):
                                event = line[7:]
                                if event == "text" and first is None:
                                    first = time.perf_counter() - t0
                            elif line.startswith("data: ") and event == "done":
                                tokens = json.loads(line[6:])["tokens"]
                    if tokens != args.length:
                        raise RuntimeError(f"expected {args.length} tokens, got {tokens}")
                    out["first"].append(first)
                    out["tokens"] += tokens
                else:
                    r = await c.post("/api/score", json={"text": TEXT[: args.text_chars]})
                    if r.status_code != 200:
                        raise RuntimeError(f"HTTP {r.status_code}: {r.text[:200]}")
                out[kind].append(time.perf_counter() - t0)
            except Exception as e:  # counted, and the first few shown
                out["errors"].append(f"{kind}: {e}")
            i += 1


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))] if xs else float("nan")


async def load(url: str, args) -> tuple[dict, float]:
    out = {"generate": [], "score": [], "first": [], "tokens": 0, "errors": []}
    t0 = time.perf_counter()
    stop_at = t0 + args.seconds
    await asyncio.gather(*(client(url, stop_at, args, out) for _ in range(args.clients)))
    return out, time.perf_counter() - t0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", metavar="RUN_DIR")
    p.add_argument("--clients", type=int, default=8, help="concurrent clients (default %(default)s = Limits.max_busy)")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--length", type=int, default=200, help="tokens per generation (default %(default)s)")
    p.add_argument("--text-chars", type=int, default=500, help="characters per score request (default %(default)s)")
    p.add_argument("--threads", type=int, default=1, help="the server's BLAS threads (default %(default)s)")
    p.add_argument("--mix", default="generate,score", help="what each client asks for, in turn (default "
                   "%(default)s; 'generate' alone compares the streamed tokens/s with the library's)")
    args = p.parse_args()
    args.mix = args.mix.split(",")
    if not args.mix or set(args.mix) - {"generate", "score"}:
        p.error(f"expected --mix of generate and score, got {','.join(args.mix)}")
    ref = reference_tokens_per_s(args.run, args.length)
    proc, url = start_server(args.run, args.threads)
    try:
        out, wall = asyncio.run(load(url, args))
    finally:
        proc.terminate()
        proc.wait(20)
    print(f"# {time.strftime('%Y-%m-%d')} {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; {args.clients} clients for {wall:.1f} s; run {args.run}")
    print("| request | count | requests/s | p50 latency | p99 latency | first token p50 |")
    print("|---|---:|---:|---:|---:|---:|")
    for kind in dict.fromkeys(args.mix):
        xs = out[kind]
        first = f"{1000 * statistics.median([f for f in out['first'] if f is not None]):.0f} ms" \
            if kind == "generate" and out["first"] else ""
        print(f"| {kind} ({args.length} tokens) |" if kind == "generate" else f"| score ({args.text_chars} chars) |",
              f"{len(xs)} | {len(xs) / wall:.1f} | {1000 * pct(xs, 50):.0f} ms | {1000 * pct(xs, 99):.0f} ms | {first} |")
    tps = out["tokens"] / wall
    print(f"\ntokens/s streamed, all clients: {tps:,.0f}; library generate() on one thread in this process: "
          f"{ref:,.0f} tokens/s; ratio {tps / ref:.2f}")
    print(f"errors: {len(out['errors'])}" + "".join(f"\n  {e}" for e in out["errors"][:5]))
    return 1 if out["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
