"""What deeprnn serve refuses, and how: a 4xx with a JSON error naming the field, the expected and the
actual value and the limit; never a 500, whatever the body (a property test posts random JSON)."""

from __future__ import annotations

import json

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("starlette")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from serve_helpers import run, served_with, server  # noqa: E402

assert run and server  # fixtures

V_PLACEHOLDER = "{V}"  # the vocabulary size, filled in by the test

CASES = [  # (id, path, raw body, status, fragment of the error, field)
    ("malformed", "generate", b'{"length": 10', 400, "malformed JSON (Expecting ',' delimiter", None),
    ("not_an_object", "generate", b"[1, 2]", 400, "expected a JSON object as the request body, got an array", None),
    ("empty", "score", b"", 400, "got an empty body", None),
    ("nan", "generate", b'{"temperature": NaN}', 400, "expected finite JSON numbers, got NaN", None),
    ("infinity", "generate", b'{"temperature": -Infinity}', 400, "got -Infinity", None),
    ("overflow", "generate", b'{"temperature": 1e999}', 422, "expected temperature to be a finite number, got inf",
     "temperature"),
    ("duplicate", "generate", b'{"seed": 1, "seed": 2}', 400, "expected each field once, got 'seed' twice", "seed"),
    ("not_utf8", "score", b'{"text": "\xff"}', 400, "expected a UTF-8 request body", None),
    ("unknown_field", "score", b'{"text": "a", "path": "/etc/passwd"}', 422,
     "unknown field 'path'; expected fields among ['text']", "path"),
    ("run_is_no_field", "generate", b'{"run": "runs/other"}', 422, "unknown field 'run'", "run"),
    ("string_for_int", "generate", b'{"length": "10"}', 422, "expected length to be an integer, got a string \"10\"",
     "length"),
    ("float_for_int", "generate", b'{"length": 10.5}', 422, "expected length to be an integer, got a number 10.5",
     "length"),
    ("bool_for_int", "generate", b'{"top_k": true}', 422, "expected top_k to be an integer, got a boolean true", "top_k"),
    ("null_for_int", "generate", b'{"length": null}', 422, "expected length to be an integer, got null", "length"),
    ("length_limit", "generate", b'{"length": 2001}', 422, "expected length in [1, 2000], got 2001", "length"),
    ("length_zero", "generate", b'{"length": 0}', 422, "expected length in [1, 2000], got 0", "length"),
    ("top_k_range", "generate", b'{"top_k": 1000}', 422, "expected top_k in [0, {V}], got 1000", "top_k"),
    ("top_k_negative", "generate", b'{"top_k": -1}', 422, "expected top_k in [0, {V}], got -1", "top_k"),
    ("top_p_zero", "generate", b'{"top_p": 0}', 422, "expected top_p in (0, 1], got 0.0", "top_p"),
    ("temperature_range", "generate", b'{"temperature": -0.5}', 422, "expected temperature in [0, 10], got -0.5",
     "temperature"),
    ("seed_negative", "generate", b'{"seed": -1}', 422, "expected seed in [0, 9223372036854775807], got -1", "seed"),
    ("prefix_limit", "generate", b'{"prefix": "' + b"a" * 1001 + b'"}', 413,
     "expected prefix of at most 1000 characters (the limit), got 1001", "prefix"),
    ("prefix_empty", "generate", b'{"prefix": ""}', 422, "expected prefix of at least 1 character(s), got 0", "prefix"),
    ("text_limit", "score", b'{"text": "' + b"a" * 4001 + b'"}', 413,
     "expected text of at most 4000 characters (the limit), got 4001", "text"),
    ("text_missing", "score", b"{}", 422, "expected field 'text', got none", "text"),
    ("layer_range", "activations", b'{"text": "ab", "layer": 1}', 422, "expected layer in [0, 0], got 1", "layer"),
    ("state_choice", "activations", b'{"text": "ab", "state": "x"}', 422, "expected state in ['h', 'c'], got \"x\"",
     "state"),
    ("unit_range", "activations", b'{"text": "ab", "unit": 32}', 422, "expected unit in [0, 31], got 32", "unit"),
    ("bad_regex", "units", b'{"text": "ab", "pattern": "(a"}', 422, "expected a regular expression, got '(a'",
     "pattern"),
    ("slow_regex", "units", b'{"text": "' + b"a" * 3999 + b'!", "pattern": "(a+)+$"}', 422,
     "expected a pattern that runs within 0.2 s on this text (the limit)", "pattern"),
    ("pattern_everywhere", "units", b'{"text": "abc", "pattern": "."}', 422,
     "expected a pattern that marks some characters and not others, got all of the 3 marked", "pattern"),
    ("top_units_limit", "units", b'{"text": "ab", "pattern": "a", "top": 51}', 422, "expected top in [1, 50], got 51",
     "top"),
    ("offset_range", "excerpt", b'{"length": 100, "offset": 2950}', 422,
     "expected offset in [0, 2900] for 100 characters of a 3000-character split, got 2950", "offset"),
    ("body_limit", "score", b'{"text": "' + b"a" * 70000 + b'"}', 413,
     "expected a request body of at most 65536 bytes (the limit), got 70012", None),
]


@pytest.fixture(scope="module")
def served(run):
    return served_with(run, pattern_timeout=0.2)


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_refused_with_a_clear_json_error(client, served, case):
    _, path, raw, status, fragment, field = case
    r = client.post(f"/api/{path}", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == status, r.text
    body = r.json()
    assert fragment.replace(V_PLACEHOLDER, str(len(served.vocab))) in body["error"], body
    assert body.get("field") == field
    if "(the limit)" in fragment or status == 413:
        assert "limit" in body, body


def test_limits_are_named_in_the_answer(client):
    body = client.post("/api/generate", json={"length": 5000}).json()
    assert body["limit"] == [1, 2000]
    body = client.post("/api/score", json={"text": "a" * 5000}).json()
    assert body["limit"] == 4000


def test_json_bodies_only(client):
    r = client.post("/api/score", content=b'{"text": "a"}', headers={"Content-Type": "text/plain"})
    assert r.status_code == 415 and "expected Content-Type: application/json, got 'text/plain'" in r.json()["error"]


def test_no_request_reaches_a_file(client):
    for path in ("/static/../service.py", "/static/..%2Fservice.py", "/static/%2e%2e/requests.py", "/static/",
                 "/static/service.py", "/static/index.html/../../pyproject.toml", "/../../etc/passwd", "/api/../app.py"):
        r = client.get(path)
        assert r.status_code == 404, (path, r.status_code, r.text[:100])
        assert "error" in r.json()
    assert client.get("/static/index.html").status_code == 200  # the page's own files are served


def test_unknown_routes_and_methods_are_json(client):
    r = client.get("/api/nothing")
    assert r.status_code == 404 and r.json() == {"error": "404: Not Found (GET /api/nothing)"}
    r = client.get("/api/score")
    assert r.status_code == 405 and r.json()["error"].startswith("405: Method Not Allowed")
    assert r.headers["allow"] == "POST"


def test_the_host_header_must_name_this_machine(client):
    """A page on another site cannot point its own name at 127.0.0.1 and read the API (DNS rebinding)."""
    r = client.get("/api/info", headers={"Host": "attacker.example:8000"})
    assert r.status_code == 400 and "expected a Host header naming this machine" in r.json()["error"]
    for host in ("localhost", "127.0.0.1:8000", "[::1]:8000", "LOCALHOST:1"):
        assert client.get("/api/info", headers={"Host": host}).status_code == 200, host


FIELDS = ["prefix", "length", "temperature", "top_k", "top_p", "seed", "text", "layer", "state", "unit", "pattern",
          "top", "offset", "path"]
VALUES = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=False),
                   st.text(max_size=30), st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3),
                                                                                              st.integers(), max_size=2))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(["generate", "score", "activations", "units", "excerpt"]),
       body=st.one_of(st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=5), VALUES))
def test_never_a_server_error(client, path, body):
    r = client.post(f"/api/{path}", content=json.dumps(body), headers={"Content-Type": "application/json"})
    assert r.status_code in (200, 400, 404, 413, 422), (body, r.status_code, r.text[:300])
    if r.status_code != 200:
        assert isinstance(r.json()["error"], str)
    elif path == "generate":
        assert r.text.rstrip().splitlines()[-2] == "event: done", r.text[-200:]
