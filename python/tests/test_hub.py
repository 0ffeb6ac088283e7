"""The Hub through a loopback fake server (HF_ENDPOINT): the same Rust client as the CLI,
its messages as HubError, the cache, offline mode, and the GIL released while it waits."""

from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import vramfit
from conftest import CONFIGS, cli_error, cli_json

COMMIT = "0123456789abcdef0123456789abcdef01234567"
CONFIG = (CONFIGS / "huggyllama__llama-7b.json").read_bytes()


class FakeHub(BaseHTTPRequestHandler):
    """`/{org}/{name}/resolve/{rev}/{file}`: org/tiny has a config.json and no safetensors;
    org/slow answers after half a second; org/gated refuses; anything else is not found."""

    log: list = []
    auth: list = []

    def do_GET(self):  # noqa: N802 (the http.server API)
        FakeHub.log.append(self.path)
        FakeHub.auth.append(self.headers.get("Authorization"))
        parts = self.path.lstrip("/").split("/")
        repo, file = "/".join(parts[:2]), parts[-1]
        if repo == "org/gated":
            return self.answer(401, b"", {"X-Error-Code": "GatedRepo"})
        if repo not in ("org/tiny", "org/slow"):
            return self.answer(404, b"", {"X-Error-Code": "RepoNotFound"})
        if file != "config.json":
            return self.answer(404, b"", {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": COMMIT})
        if repo == "org/slow":
            time.sleep(0.5)
        self.answer(200, CONFIG, {"X-Repo-Commit": COMMIT, "ETag": '"config-etag"'})

    def answer(self, status, body, headers):
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def hub(tmp_path, monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    for var in ("HF_TOKEN", "HF_HUB_OFFLINE", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_TOKEN_PATH"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_DOWNLOAD_TIMEOUT", "5")
    FakeHub.log = []
    FakeHub.auth = []
    yield FakeHub.log
    server.shutdown()
    server.server_close()


def test_a_hub_model_is_the_cli_json(hub):
    r = vramfit.estimate("org/tiny", gpu="T4", task="train", method="lora")
    assert any(p.endswith("/org/tiny/resolve/main/config.json") for p in hub)
    assert r.origin.startswith("http://127.0.0.1") or "org/tiny" in r.origin
    assert r.bytes_transferred >= len(CONFIG)
    expected = cli_json(["estimate", "org/tiny", "--gpu", "T4", "--task", "train", "--method", "lora"], dict(os.environ))
    assert r.to_dict() == expected
    # The same architecture as the catalog's llama-7b (weights from parameter counts).
    assert r["weights"].bytes == vramfit.estimate("llama-7b", task="train", method="lora")["weights"].bytes


def test_revision_and_cache_and_offline(hub, monkeypatch):
    vramfit.estimate("org/tiny", revision="main")
    assert any("/resolve/main/config.json" in p for p in hub)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    n = len(hub)
    r = vramfit.estimate("org/tiny")  # from the cache the first call filled
    assert len(hub) == n and r.total_bytes > 0
    monkeypatch.setenv("HF_HOME", os.environ["HF_HOME"] + "-empty")
    with pytest.raises(vramfit.HubError) as e:
        vramfit.estimate("org/tiny")
    assert str(e.value).startswith("HF_HUB_OFFLINE is set")
    assert str(e.value) == cli_error(["estimate", "org/tiny"], dict(os.environ))


@pytest.mark.parametrize("repo", ["org/gated", "org/missing"])
def test_refusals_are_hub_errors_with_the_cli_line(hub, repo):
    with pytest.raises(vramfit.HubError) as e:
        vramfit.estimate(repo, gpu="T4")
    assert isinstance(e.value, OSError)
    assert str(e.value) == cli_error(["estimate", repo, "--gpu", "T4"], dict(os.environ))
    assert ("HF_TOKEN" in str(e.value)) and "\n" not in str(e.value)


def test_the_gil_is_released_while_the_hub_answers(hub):
    ticks = []
    done = threading.Event()

    def tick():
        while not done.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.01)

    t = threading.Thread(target=tick)
    t.start()
    try:
        start = time.monotonic()
        vramfit.estimate("org/slow")
        end = time.monotonic()
    finally:
        done.set()
        t.join()
    during = [x for x in ticks if start < x < end]
    # The server (a Python thread in this process) answered after 0.5 s, and the other thread
    # kept running meanwhile: both need the GIL that the call released.
    assert end - start >= 0.5
    assert len(during) >= 10, len(during)


def test_hf_token_is_sent_to_the_hub(hub, monkeypatch):
    vramfit.estimate("org/tiny")
    assert set(FakeHub.auth) == {None}
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    vramfit.estimate("org/tiny")
    assert "Bearer hf_test_token" in FakeHub.auth
