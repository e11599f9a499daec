"""Download path of deeprnn.data: mirror, checksum, atomic cache, clear errors (local HTTP server)."""

from __future__ import annotations

import hashlib
import os
import sys

import pytest
from data_fixtures import cache, mirror, refused_url, serve_folder, shared_data  # noqa: F401 (fixtures)

from deeprnn.data import DownloadError, cache_dir, fetch, load_corpus
from deeprnn.data.download import REMOTE, source_url

TM_SHA1 = "090b5e7e70c295757f55df93cb0a180b9691891a"


def test_fetch_downloads_verifies_caches_and_then_stays_offline(mirror, cache, shared_data):
    path = fetch("timemachine")
    assert path == cache / "timemachine.txt"
    assert mirror == ["/timemachine.txt"]
    assert path.read_bytes() == (shared_data / "timemachine.txt").read_bytes()
    assert hashlib.sha1(path.read_bytes()).hexdigest() == TM_SHA1
    assert sorted(os.listdir(cache)) == ["timemachine.txt"]  # no temporary file left over

    first = load_corpus("timemachine")
    second = load_corpus("timemachine")
    assert mirror == ["/timemachine.txt"]  # the cached copy was used, no new request
    assert first == second and first.name == "timemachine"
    assert first.sources == (REMOTE["timemachine"].url,)
    assert first.text.startswith("The Time Machine, by H. G. Wells [1898]")


def test_a_download_is_reported_once_on_stderr(mirror, cache, capsys):
    path = fetch("timemachine")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "timemachine.txt" in err and str(path) in err
    assert "178,979 bytes, SHA-1 verified" in err
    fetch("timemachine")  # cached: silent
    assert capsys.readouterr().err == ""


def test_tinyshakespeare_is_cached_under_its_own_name(mirror, cache):
    path = fetch("tinyshakespeare")
    assert path == cache / "tinyshakespeare.txt"
    assert mirror == ["/tinyshakespeare.txt"]
    assert path.stat().st_size == 1_115_394
    assert load_corpus("tinyshakespeare").text.startswith("First Citizen:")
    assert mirror == ["/tinyshakespeare.txt"]


def test_cached_file_is_verified_again_and_replaced_when_damaged(mirror, cache, shared_data):
    cache.mkdir()
    (cache / "timemachine.txt").write_bytes(b"damaged")
    with pytest.warns(UserWarning, match="expected SHA-1 " + TM_SHA1):
        path = fetch("timemachine")
    assert mirror == ["/timemachine.txt"]
    assert path.read_bytes() == (shared_data / "timemachine.txt").read_bytes()


def test_checksum_mismatch_is_one_line_naming_both_digests_and_leaves_no_file(cache, tmp_path, monkeypatch):
    bad = tmp_path / "bad"
    bad.mkdir()
    payload = b"The Time Machine, by somebody else\n"
    (bad / "timemachine.txt").write_bytes(payload)
    with serve_folder(bad) as (url, requests):
        monkeypatch.setenv("DEEPRNN_MIRROR", url + "/")  # a trailing slash is fine
        with pytest.raises(DownloadError) as info:
            fetch("timemachine")
    message = str(info.value)
    assert requests == ["/timemachine.txt"]
    assert message.startswith(f"timemachine.txt: expected SHA-1 {TM_SHA1}, got {hashlib.sha1(payload).hexdigest()}")
    assert "\n" not in message
    assert os.listdir(cache) == []  # neither the file nor a temporary one


def test_sha256_mismatch_names_the_algorithm(cache, tmp_path, monkeypatch):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "tinyshakespeare.txt").write_bytes(b"First Citizen:\n")
    with serve_folder(bad) as (url, _):
        monkeypatch.setenv("DEEPRNN_MIRROR", url)
        with pytest.raises(DownloadError, match="tinyshakespeare.txt: expected SHA-256 86c4e6aa"):
            fetch("tinyshakespeare")
    assert os.listdir(cache) == []


def test_http_404_is_a_clear_download_error(cache, tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    with serve_folder(empty) as (url, requests):
        monkeypatch.setenv("DEEPRNN_MIRROR", url)
        with pytest.raises(DownloadError) as info:
            load_corpus("timemachine")
    assert requests == ["/timemachine.txt"]
    message = str(info.value)
    assert "timemachine.txt" in message and "HTTP 404" in message and f"{url}/timemachine.txt" in message
    assert "\n" not in message
    assert os.listdir(cache) == []


def test_connection_refused_is_a_clear_download_error(cache, monkeypatch):
    url = refused_url()
    monkeypatch.setenv("DEEPRNN_MIRROR", url)
    with pytest.raises(DownloadError, match=r"tinyshakespeare\.txt: download from .* failed") as info:
        fetch("tinyshakespeare")
    assert isinstance(info.value, OSError)
    assert os.listdir(cache) == []


def test_unknown_remote_name_is_an_error(cache):
    with pytest.raises(ValueError, match="unknown remote corpus 'nope'"):
        fetch("nope")


def test_mirror_and_published_urls(monkeypatch):
    monkeypatch.delenv("DEEPRNN_MIRROR", raising=False)
    assert source_url(REMOTE["timemachine"]) == "http://d2l-data.s3-accelerate.amazonaws.com/timemachine.txt"
    assert source_url(REMOTE["tinyshakespeare"]).endswith("/karpathy/char-rnn/master/data/tinyshakespeare/input.txt")
    monkeypatch.setenv("DEEPRNN_MIRROR", "http://example.invalid/data/")
    assert source_url(REMOTE["tinyshakespeare"]) == "http://example.invalid/data/tinyshakespeare.txt"


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="XDG cache folder is for Linux and BSD")
def test_cache_dir_follows_deeprnn_data_then_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("DEEPRNN_DATA", str(tmp_path / "override"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "override"
    monkeypatch.delenv("DEEPRNN_DATA")
    assert cache_dir() == tmp_path / "xdg" / "deeprnn"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # ignored, as the XDG spec says
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "deeprnn"
