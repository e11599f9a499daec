"""The JSON API of deeprnn serve, over real HTTP against a server in a thread.

What each answer holds (checked against the library: generate, engine.logits, lm/inside.py,
lm/units.py, the run's files) and how the server behaves under load, disconnects and bad requests.
Refusals, limits and never-a-500 are in test_serve_refusals.py.
"""

from __future__ import annotations

import math
import threading
import time

import numpy as np
import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("starlette")

from deeprnn.lm.generate import generate  # noqa: E402
from deeprnn.lm.inside import activations  # noqa: E402
from deeprnn.lm.units import pattern_mask  # noqa: E402
from deeprnn.serve.server import BackgroundServer  # noqa: E402
from lm_helpers import cli, metrics  # noqa: E402
from serve_helpers import read_events, run, served, served_with, server, streamed_text, tiny_run  # noqa: E402

assert run and served and server  # fixtures

TEXT = 'The "object" (an int) is\nreturned by "len()" here.\n'


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


def post(client, path, body):
    return client.post(path, json=body)


def test_info_describes_the_run(client, served, run):
    info = client.get("/api/info").json()
    rows = [r for r in metrics(run) if "val_ppl" in r]
    best = min(rows, key=lambda r: r["val_ppl"])
    assert info["run"] == run.name and info["weights"] == "best" and info["step"] == best["step"]
    assert info["val_ppl"] == pytest.approx(best["val_ppl"]) and info["val_step"] == best["step"]
    V = len(served.vocab)
    assert info["uniform_ppl"] == V and info["uniform_bpc"] == pytest.approx(math.log2(V))
    assert info["parameters"] == sum(v.size for v in served.run.engine.state_dict().values())
    assert [r["step"] for r in info["curves"]] == [r["step"] for r in rows]
    assert [r["train_ppl"] for r in info["curves"]] == pytest.approx([r["train_ppl"] for r in rows])
    assert info["config"]["model"]["hidden_size"] == 32 and info["model"]["states"] == ["h", "c"]
    assert info["vocab"]["size"] == V and info["limits"]["max_length"] == 2000 and info["excerpts"] is True


def test_generate_streams_what_deeprnn_generate_prints(client, run, capsys):
    req = {"prefix": "The ", "length": 120, "temperature": 0.8, "top_k": 12, "top_p": 0.95, "seed": 7}
    with client.stream("POST", "/api/generate", json=req) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = read_events(r)
    names = [n for n, _ in events]
    assert names[0] == "start" and names[-1] == "done" and set(names[1:-1]) == {"text"}
    assert events[0][1]["seed"] == 7 and events[-1][1]["tokens"] == 120
    code, out, _ = cli(capsys, "generate", run, "--prefix", "The ", "--length", 120, "--temperature", 0.8,
                       "--top-k", 12, "--top-p", 0.95, "--seed", 7)
    assert code == 0 and out == "The " + streamed_text(events) + "\n"


def test_pieces_arrive_while_sampling_goes_on(run):
    served = served_with(run, delay=0.004)  # 200 tokens take about 0.8 s
    with BackgroundServer(served) as server, httpx.Client(base_url=server.url, timeout=30) as c:
        arrivals = []
        with c.stream("POST", "/api/generate", json={"length": 200, "seed": 1}) as r:
            t0 = time.perf_counter()
            for line in r.iter_lines():
                if line.startswith("event: text"):
                    arrivals.append(time.perf_counter() - t0)
        total = time.perf_counter() - t0
    assert len(arrivals) >= 5, arrivals  # one event per slice of sampling, not one at the end
    assert arrivals[0] < 0.5 * total, (arrivals[0], total)


def test_a_random_seed_is_reported_and_reproduces(client):
    def sample(seed):
        with client.stream("POST", "/api/generate", json={"length": 60, "seed": seed}) as r:
            events = read_events(r)
        return events[0][1]["seed"], streamed_text(events)

    seed, text = sample(None)
    assert isinstance(seed, int) and 0 <= seed < 2**63
    assert sample(seed) == (seed, text)


def test_score_is_the_engine_probability_of_each_next_token(client, served):
    answer = post(client, "/api/score", {"text": TEXT}).json()
    ids = served.vocab.encode(TEXT)
    z, _ = served.run.engine.logits(ids[:, None], served.run.engine.initial_state(1))
    p = np.exp(z[:, 0] - z[:, 0].max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)  # (T, V)
    assert answer["tokens"] == list(TEXT) and answer["steps"][0] is None
    for t in range(1, len(ids)):
        step = answer["steps"][t]
        assert step["p"] == pytest.approx(p[t - 1, ids[t]], abs=2e-6)
        assert step["bits"] == pytest.approx(-math.log2(p[t - 1, ids[t]]), abs=1e-5)
        order = np.argsort(-p[t - 1], kind="stable")[:5]
        assert [tok for tok, _ in step["top"]] == [served.vocab.idx_to_token[i] for i in order]
        assert [q for _, q in step["top"]] == pytest.approx(p[t - 1, order], abs=2e-6)
    assert answer["mean_bits"] == pytest.approx(np.mean([s["bits"] for s in answer["steps"][1:]]))


def test_activations_are_every_unit_of_the_layer(client, served):
    ids = served.vocab.encode(TEXT)
    acts = activations(served.model, served.params, ids)
    for state in ("h", "c"):
        answer = post(client, "/api/activations", {"text": TEXT, "layer": 0, "state": state}).json()
        values = np.array(answer["values"])  # (T, H)
        assert values.shape == (len(TEXT), 32)
        np.testing.assert_allclose(values, acts.state(state, 0), atol=5.1e-5)
    one = post(client, "/api/activations", {"text": TEXT, "state": "c", "unit": 7}).json()
    np.testing.assert_allclose(one["values"], acts.state("c", 0)[:, 7], atol=5.1e-5)


def test_units_are_ranked_by_correlation_with_the_pattern(client, served):
    pattern = r'"[^"\n]*"'
    answer = post(client, "/api/units", {"text": TEXT, "pattern": pattern, "top": 6}).json()
    on = pattern_mask(list(TEXT), pattern)
    assert answer["on"] == on.astype(int).tolist() and answer["matched"] == int(on.sum())
    units = answer["units"]
    assert len(units) == 6 and [abs(u["r"]) for u in units] == sorted((abs(u["r"]) for u in units), reverse=True)
    acts = activations(served.model, served.params, served.vocab.encode(TEXT))
    for u in units:
        exact = acts.state(u["state"], u["layer"])[:, u["unit"]]
        assert u["r"] == pytest.approx(np.corrcoef(exact, on)[0, 1], abs=1e-6)
        np.testing.assert_allclose(u["values"], exact, atol=5.1e-5)


def test_a_word_level_gru_of_two_layers(tmp_path_factory):
    """Another cell, depth and token level: words stream with their spaces, h only, whitespace refused."""
    run = tiny_run(tmp_path_factory, cell="gru", layers=2, steps=4, tokens="word")
    served = served_with(run)
    with BackgroundServer(served) as server, httpx.Client(base_url=server.url, timeout=30) as c:
        with c.stream("POST", "/api/generate", json={"prefix": "the value", "length": 12, "seed": 2}) as r:
            text = streamed_text(read_events(r))
        assert text == generate(served.run.engine, served.vocab, "the value", 12, seed=2)
        assert len(text.split()) == 12 and text.startswith(" ")
        r = c.post("/api/generate", json={"prefix": "   "})
        assert r.status_code == 422 and r.json()["error"] == "expected a prefix with at least one token, got only whitespace"
        answer = c.post("/api/activations", json={"text": "the value of x", "layer": 1}).json()
        assert answer["tokens"] == ["the", "value", "of", "x"] and np.array(answer["values"]).shape == (4, 32)
        r = c.post("/api/activations", json={"text": "the value", "state": "c"})
        assert r.status_code == 422 and r.json()["error"] == "expected state in ['h'], got \"c\""
        units = c.post("/api/units", json={"text": "the (value of) x is the", "pattern": r"\(.*\)"}).json()
        assert units["on"] == [0, 1, 1, 0, 0, 0] and units["units"][0]["state"] == "h"


def test_excerpts_come_from_the_validation_split(client, served):
    assert served.val_text and len(served.val_text) == 3000  # 10% of the 30,000-character corpus
    a = post(client, "/api/excerpt", {"length": 300, "offset": 1000}).json()
    assert a == {"text": served.val_text[1000:1300], "offset": 1000, "total": 3000}
    b = post(client, "/api/excerpt", {"length": 200}).json()
    assert b["text"] == served.val_text[b["offset"]:b["offset"] + 200]
    assert post(client, "/api/excerpt", {"length": 5000 - 1001}).status_code == 200  # clipped to the split


def test_concurrent_requests_keep_their_own_state(client, served):
    """Four generations and four scores at once (8 = Limits.max_busy): each answer equals the one
    computed alone."""
    seeds = range(4)
    want = {s: generate(served.run.engine, served.vocab, "In ", 150, 1.0, 0, 1.0, s) for s in seeds}
    score_alone = post(client, "/api/score", {"text": TEXT}).json()
    got, scores, errors = {}, [], []

    def gen(seed):
        try:
            with client.stream("POST", "/api/generate", json={"prefix": "In ", "length": 150, "seed": seed}) as r:
                got[seed] = streamed_text(read_events(r))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    def score():
        scores.append(post(client, "/api/score", {"text": TEXT}).json())

    threads = [threading.Thread(target=gen, args=(s,)) for s in seeds] + [threading.Thread(target=score) for _ in seeds]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and got == want
    assert len(scores) == 4 and all(s == score_alone for s in scores)


def test_a_client_that_disconnects_stops_its_generation(run):
    served = served_with(run, delay=0.005, max_busy=1)  # 2000 tokens would take 10 s
    engine = served.run.engine
    with BackgroundServer(served) as server, httpx.Client(base_url=server.url, timeout=30) as c:
        with c.stream("POST", "/api/generate", json={"length": 2000, "seed": 0}) as r:
            for line in r.iter_lines():
                if line.startswith("event: text"):
                    break  # read one slice, then hang up
        before, deadline = -1, time.monotonic() + 5
        while engine.calls != before and time.monotonic() < deadline:  # until sampling has stopped
            before = engine.calls
            time.sleep(0.3)
        assert engine.calls == before < 1000, (before, engine.calls)
        time.sleep(0.5)
        assert engine.calls == before  # and stays stopped
        # the one slot is free again: the next request is served, not refused as busy
        assert c.post("/api/score", json={"text": "abc"}).status_code == 200


def test_a_busy_server_says_so_and_recovers(run):
    served = served_with(run, delay=0.003, max_busy=1)
    with BackgroundServer(served) as server, httpx.Client(base_url=server.url, timeout=30) as c:
        with c.stream("POST", "/api/generate", json={"length": 300, "seed": 0}) as r:
            lines = r.iter_lines()
            next(lines)  # the stream has started: its slot is taken
            busy = c.post("/api/score", json={"text": "abc"})
            assert busy.status_code == 503
            assert busy.json() == {"error": "the server is busy: 1 of 1 requests running (the limit); try again "
                                            "in a moment", "limit": 1}
            for _ in lines:
                pass
        assert c.post("/api/score", json={"text": "abc"}).status_code == 200


def test_the_page_and_its_assets(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp  # the browser itself refuses anything from elsewhere
    for asset in ("main.js", "api.js", "generate.js", "read.js", "inside.js", "run.js", "text.js", "style.css"):
        r = client.get(f"/static/{asset}")
        assert r.status_code == 200 and len(r.content) > 500, asset
        assert "http://" not in r.text and "https://" not in r.text, asset  # nothing fetched from outside
    assert "https://" not in page.text and "http://" not in page.text


def test_every_asset_is_package_data():
    """A wheel (not only an editable install) carries the page: pyproject's package-data covers it."""
    import fnmatch
    from pathlib import Path

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    from deeprnn.serve.app import STATIC, load_assets

    root = Path(__file__).resolve().parents[1]
    patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["deeprnn.serve"]
    files = sorted(p.relative_to(STATIC.parent).as_posix() for p in STATIC.iterdir())
    assert files and all(any(fnmatch.fnmatch(f, pat) for pat in patterns) for f in files), (files, patterns)
    assert sorted(load_assets()) == sorted(Path(f).name for f in files)  # and the server serves each
