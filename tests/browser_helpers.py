"""Headless Chromium from the system's packages, driven by Selenium, for tests/test_serve_browser.py.

Nothing is downloaded: the browser is /usr/bin/chromium and the driver /usr/bin/chromedriver (Debian's
chromium and chromium-driver, the same version), both named explicitly, so Selenium Manager (which would
look for or fetch a browser) never runs; the fixture makes sure of it. Outside CI a missing browser
skips the browser tests with the reason; with CI=true it fails them. Flags that work as root on these
machines: no sandbox, no GPU, and no background network traffic (the network is closed).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time

import pytest

BROWSERS = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
DRIVERS = ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--force-device-scale-factor=1"]


def _first(paths, name: str) -> str | None:
    found = next((p for p in paths if os.path.isfile(p) and os.access(p, os.X_OK)), None)
    return found or shutil.which(name)


def missing(reason: str):
    """Skip outside CI; under CI=true a missing browser is a failure (the browser tests must run there)."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: the browser tests must run; .ci/run installs chromium and chromium-driver)")
    pytest.skip(f"{reason}: apt-get install chromium chromium-driver to run the browser tests")


def start_chrome(monkeypatch, width: int = 1280, height: int = 900):
    """A Selenium WebDriver on headless Chromium, with a fresh profile; the caller quits it."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.common import selenium_manager
    except ImportError:
        missing("selenium is not installed (it comes with the dev extra)")
    browser, driver = _first(BROWSERS, "chromium"), _first(DRIVERS, "chromedriver")
    if browser is None or driver is None:
        missing(f"no Chromium found (browser {browser or 'missing'}, driver {driver or 'missing'})")

    def no_manager(*args, **kwargs):
        raise AssertionError("Selenium Manager was asked for a browser; it must never download one")

    monkeypatch.setattr(selenium_manager.SeleniumManager, "binary_paths", no_manager)
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    profile = tempfile.mkdtemp(prefix="deeprnn-chromium-")
    for flag in FLAGS + [f"--user-data-dir={profile}", f"--window-size={width},{height}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    chrome.set_script_timeout(30)
    chrome.profile_dir = profile
    return chrome


def stop_chrome(chrome) -> None:
    chrome.quit()
    shutil.rmtree(chrome.profile_dir, ignore_errors=True)


def wait_for(chrome, script: str, timeout: float = 20.0, *args):
    """Poll the JavaScript expression ``script`` (a function body returning a value) until it is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = chrome.execute_script(script, *args)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for: {script}")
        time.sleep(0.05)


def set_value(chrome, element_id: str, value) -> None:
    """Set an input's value as a user would, firing the input and change events the page listens to."""
    chrome.execute_script(
        "const el = document.getElementById(arguments[0]); el.value = arguments[1];"
        "el.dispatchEvent(new Event('input', {bubbles: true})); el.dispatchEvent(new Event('change', {bubbles: true}));",
        element_id, str(value))


def console_errors(chrome) -> list[str]:
    return [e["message"] for e in chrome.get_log("browser") if e["level"] == "SEVERE"]
