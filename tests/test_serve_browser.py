"""The deeprnn serve page in a real browser (headless Chromium, see browser_helpers.py).

It loads with nothing from outside; it streams the same text as ``deeprnn generate``; hovering a
character in the Read view shows the model's top-5 predictions; a unit search lists the units the API
ranks; refusals and a busy server are said on the page; and every view is saved as a PNG, at a laptop's
and a phone's width (into $DEEPRNN_SCREENSHOTS when set, else the test's temporary folder; of the run
in $DEEPRNN_SERVE_RUN when set, else the tiny test run).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("starlette")

from browser_helpers import console_errors, set_value, start_chrome, stop_chrome, wait_for  # noqa: E402
from deeprnn.serve.server import BackgroundServer  # noqa: E402
from lm_helpers import cli  # noqa: E402
from serve_helpers import run, served, served_with, server  # noqa: E402

assert run and served and server  # fixtures

TEXT = 'The "object" (an int) is\nreturned by "len()" here.\n'
READY = "return document.body.dataset.ready === 'true'"


@pytest.fixture(scope="module")
def chrome():
    with pytest.MonkeyPatch.context() as mp:
        c = start_chrome(mp)
        try:
            yield c
        finally:
            stop_chrome(c)


def open_page(chrome, url, view="generate"):
    chrome.get("about:blank")  # a fresh page each time, not only a new #view
    chrome.get(f"{url}#{view}")
    wait_for(chrome, READY)


def click(chrome, element_id):
    chrome.find_element("id", element_id).click()


def text_of(chrome, element_id) -> str:
    return chrome.execute_script("return document.getElementById(arguments[0]).textContent", element_id)


def test_the_page_loads_with_nothing_from_outside(chrome, server, served):
    open_page(chrome, server.url)
    assert text_of(chrome, "status") == "ready"
    assert "LSTM 1×32" in text_of(chrome, "run-name")
    loaded = chrome.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert {Path(u).name for u in loaded} >= {"main.js", "api.js", "style.css", "info"}
    assert all(u.startswith(server.url) for u in loaded), loaded
    click(chrome, "tab-run")
    assert text_of(chrome, "run-ppl").startswith(f"{served.info()['val_ppl']:.3f}")
    drawn = chrome.execute_script(  # pixels the curves put on the canvas
        "const c = document.getElementById('run-curves'); const d = c.getContext('2d')"
        ".getImageData(0, 0, c.width, c.height).data; let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 0;"
        "return n")
    assert drawn > 2000
    assert console_errors(chrome) == []


def test_generating_in_the_page_streams_what_deeprnn_generate_prints(chrome, server, run, capsys):
    open_page(chrome, server.url)
    for field, value in (("gen-prefix", "The "), ("gen-temperature", 0.7), ("gen-top-k", 10), ("gen-top-p", 0.9),
                         ("gen-seed", 3), ("gen-length", 150)):
        set_value(chrome, field, value)
    assert chrome.execute_script("return document.getElementById('gen-top-p').value") == "0.9"
    click(chrome, "gen-go")
    wait_for(chrome, "return document.getElementById('gen-out').dataset.done === 'true'")
    shown = text_of(chrome, "gen-out")
    code, out, _ = cli(capsys, "generate", run, "--prefix", "The ", "--temperature", 0.7, "--top-k", 10,
                       "--top-p", 0.9, "--seed", 3, "--length", 150)
    assert code == 0 and out == shown + "\n"
    assert "150 tokens" in text_of(chrome, "gen-meta") and "seed 3" in text_of(chrome, "gen-meta")


def test_hovering_a_character_shows_the_top_5_predictions(chrome, server, served):
    from selenium.webdriver.common.action_chains import ActionChains

    open_page(chrome, server.url, "read")
    set_value(chrome, "read-text", TEXT)
    click(chrome, "read-go")
    wait_for(chrome, f"return document.querySelectorAll('#read-out .t').length === {len(TEXT)}")
    shades = chrome.execute_script("return new Set([...document.querySelectorAll('#read-out .t')]"
                                   ".map(s => s.style.background)).size")
    assert shades > 10  # shaded by surprise, not one colour
    want = served.score({"text": TEXT})["steps"]
    for i in (5, 30):
        ActionChains(chrome).move_to_element(chrome.find_element("css selector", f"#read-out .t[data-i='{i}']")).perform()
        wait_for(chrome, "return !document.getElementById('tip').hidden")
        rows = chrome.execute_script("return [...document.querySelectorAll('#tip tr')].map(r => [...r.cells]"
                                     ".slice(0, 2).map(c => c.textContent))")
        assert rows == [[json.dumps(tok), f"{p:.3f}"] for tok, p in want[i]["top"]]
        assert f"p = {want[i]['p']:.4f}" in text_of(chrome, "tip")
        assert text_of(chrome, "tip").startswith("…" + TEXT[max(0, i - 16):i].replace("\n", "↵"))


def test_a_unit_search_lists_the_ranked_units(chrome, server, served):
    open_page(chrome, server.url, "inside")
    pattern = r'"[^"\n]*"'
    set_value(chrome, "inside-text", TEXT)
    set_value(chrome, "units-pattern", pattern)
    click(chrome, "units-go")
    wait_for(chrome, "return document.querySelectorAll('#units-out li').length === 8")
    want = served.units({"text": TEXT, "pattern": pattern, "top": 8})
    listed = chrome.execute_script("return [...document.querySelectorAll('#units-out li')].map(li => "
                                   "[+li.dataset.layer, li.dataset.state, +li.dataset.unit, li.querySelector('b').textContent])")
    assert listed == [[u["layer"], u["state"], u["unit"], f"r = {'+' if u['r'] >= 0 else '-'}{abs(u['r']):.3f}"]
                      for u in want["units"]]
    on = chrome.execute_script("return document.querySelectorAll('#units-mask .on').length")
    assert on == want["matched"] == TEXT.count('"') + len("object") + len("len()")
    first = want["units"][0]
    chrome.find_element("css selector", "#units-out li").click()
    title = f"Layer {first['layer']}, {first['state']}, unit {first['unit']}"
    wait_for(chrome, "return document.getElementById('inside-title').textContent === arguments[0]", 20, title)
    coloured = chrome.execute_script("return [...document.querySelectorAll('#inside-out .t')].filter(s => s.style.background).length")
    assert coloured == len(TEXT)


def test_refusals_and_a_busy_server_are_said_on_the_page(chrome, server, run):
    open_page(chrome, server.url)
    set_value(chrome, "gen-length", 5000)
    click(chrome, "gen-go")
    wait_for(chrome, "return !document.getElementById('notice').hidden")
    notice = text_of(chrome, "notice-text")
    assert notice.startswith("Refused (422): expected length in [1, 2000], got 5000") and "limit" in notice
    busy = served_with(run, delay=0.003, max_busy=1)  # one slot, and a generation that holds it for seconds
    with BackgroundServer(busy) as other, httpx.Client(base_url=other.url, timeout=30) as client:
        open_page(chrome, other.url, "read")
        started, stop = threading.Event(), threading.Event()

        def hold_the_slot():
            with client.stream("POST", "/api/generate", json={"length": 2000}) as r:
                for _ in r.iter_lines():
                    started.set()
                    if stop.is_set():
                        break

        holder = threading.Thread(target=hold_the_slot)
        holder.start()
        try:
            assert started.wait(20)
            click(chrome, "read-go")
            wait_for(chrome, "return document.getElementById('notice').dataset.kind === 'busy'")
            assert text_of(chrome, "notice-text").startswith("The server is busy: 1 of 1 requests running (the limit)")
            assert text_of(chrome, "status") == "busy"
        finally:
            stop.set()
            holder.join(30)


VIEWS = {  # view -> what to do in it before the screenshot
    "generate": [("set", "gen-seed", 0), ("click", "gen-go"), ("wait", "document.getElementById('gen-out').dataset.done === 'true'")],
    "read": [("click", "read-go"), ("wait", "document.querySelectorAll('#read-out .t').length > 100"),
             ("hover", "#read-out .t[data-i='40']")],
    "inside": [("click", "inside-go"), ("wait", "document.querySelectorAll('#inside-out .t').length > 50"),
               ("click", "units-go"), ("wait", "document.querySelectorAll('#units-out li').length > 0"),
               ("pick", "#units-out li"), ("wait", "document.getElementById('inside-title').textContent !== 'Layer 0, h, unit 0'")],
    "run": [("wait", "document.querySelectorAll('#run-model tr').length > 3")],
}


@pytest.fixture(scope="module")
def shown_server(server):
    """The module's server, or one of the run in $DEEPRNN_SERVE_RUN (e.g. runs/demo, for the README's picture)."""
    other = os.environ.get("DEEPRNN_SERVE_RUN")
    if not other:
        yield server
        return
    from deeprnn.serve.server import open_served

    with BackgroundServer(open_served(other)) as s:
        yield s


@pytest.mark.parametrize("width", [1280, 390])
def test_screenshots_of_every_view(chrome, shown_server, width, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains

    server = shown_server
    folder = Path(os.environ.get("DEEPRNN_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    chrome.set_window_size(width, 900)
    chrome.get_log("browser")  # drop what the tests before logged (the refusals are meant)
    for view, steps in VIEWS.items():
        open_page(chrome, server.url, view)
        for kind, target, *value in steps:
            if kind == "set":
                set_value(chrome, target, value[0])
            elif kind == "click":
                click(chrome, target)
            elif kind == "pick":
                chrome.find_element("css selector", target).click()
            elif kind == "wait":
                wait_for(chrome, f"return {target}")
            else:
                ActionChains(chrome).move_to_element(chrome.find_element("css selector", target)).perform()
        assert chrome.execute_script("return document.documentElement.scrollWidth <= window.innerWidth"), \
            f"the {view} view is wider than a {width}-pixel screen"
        if kind != "hover":  # the whole page; a hover is kept in the window it happened in
            height = chrome.execute_script("return document.documentElement.scrollHeight")
            chrome.set_window_size(width, min(4000, height + 120))
        chrome.execute_script("window.scrollTo(0, 0)") if kind != "hover" else None
        path = folder / f"serve-{view}-{width}.png"
        assert chrome.save_screenshot(str(path))
        assert path.stat().st_size > 10_000, path
        chrome.set_window_size(width, 900)
    assert console_errors(chrome) == []
