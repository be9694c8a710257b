"""The web page in a real headless Chromium with a fake microphone playing tests/data/jfk.wav.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them when missing) and
the ``selenium`` package; skipped with the reason otherwise. Only loopback traffic.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

selenium = pytest.importorskip("selenium", reason="needs selenium (pip install 'tingshuo[dev]')")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    pytest.skip("no browser: install Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
                allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

SCREENSHOT = os.environ.get("TINGSHUO_SCREENSHOT")  # where to keep a screenshot of the page, if set


@pytest.fixture(scope="module")
def browser(data_dir):
    profile = tempfile.mkdtemp(prefix="tingshuo-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1100,1600",
                 "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                 f"--use-file-for-fake-audio-capture={data_dir / 'jfk.wav'}",
                 "--autoplay-policy=no-user-gesture-required"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _wait(driver, cond, timeout_s: float = 90.0, what: str = "the page"):
    return WebDriverWait(driver, timeout_s, poll_frequency=0.25).until(
        lambda d: cond(d), message=f"timed out waiting for {what}")


def _text(driver, css: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, css).text


def test_page_upload_record_speak_chat(browser, server, data_dir):
    d = browser
    d.get(server.url + "/")
    assert "tingshuo" in d.title

    # upload a file -> transcript with clickable timestamps that seek the <audio> element
    d.find_element(By.ID, "asr-file").send_keys(str(data_dir / "jfk.wav"))
    d.find_element(By.ID, "asr-upload").click()
    _wait(d, lambda d: "americans" in _text(d, "#transcript").lower(), what="the uploaded file's transcript")
    segs = d.find_elements(By.CSS_SELECTOR, "#transcript .seg")
    assert len(segs) >= 2
    target = float(segs[-1].get_attribute("data-start"))
    segs[-1].click()
    _wait(d, lambda d: abs(d.execute_script("return document.getElementById('asr-audio').currentTime") - target) < 1.0,
          15, "the audio element to seek")

    # record from the (fake) microphone -> transcript
    d.find_element(By.ID, "rec-start").click()
    _wait(d, lambda d: "recording" in _text(d, "#asr-status"), 15, "recording to start")
    time.sleep(6.0)
    d.find_element(By.ID, "rec-stop").click()
    _wait(d, lambda d: "language" in _text(d, "#asr-status") and _text(d, "#transcript").strip(), 90,
          "the recording's transcript")
    heard = _text(d, "#transcript").lower()
    assert any(w in heard for w in ("fellow", "americans", "ask", "country")), heard

    # type text and hear it
    box = d.find_element(By.ID, "tts-text")
    box.clear()
    box.send_keys("Hello from the browser test.")
    d.find_element(By.ID, "tts-go").click()
    _wait(d, lambda d: (d.find_element(By.ID, "tts-audio").get_attribute("src") or "").startswith("blob:"), 60,
          "the speech audio")
    assert "first audio after" in _text(d, "#tts-status")
    duration = _wait(d, lambda d: d.execute_script(
        "const a = document.getElementById('tts-audio'); return a.duration > 0 && isFinite(a.duration) ? a.duration : null"),
        30, "the speech audio to load")
    assert 0.8 < duration < 8

    # a typed chat turn -> the assistant's answer (and its audio)
    d.find_element(By.ID, "chat-connect").click()
    _wait(d, lambda d: "connected" in _text(d, "#chat-status"), 60, "the chat connection")
    d.find_element(By.ID, "chat-text").send_keys("How do I check my account balance?")
    d.find_element(By.ID, "chat-send").click()
    _wait(d, lambda d: d.find_elements(By.CSS_SELECTOR, "#chat-log .msg.bot"), 90, "the assistant's answer")
    assert "95588" in _text(d, "#chat-log .msg.bot")
    if SCREENSHOT:
        Path(SCREENSHOT).parent.mkdir(parents=True, exist_ok=True)
        d.save_screenshot(SCREENSHOT)


def test_page_inspects_clips(browser, server, data_dir):
    pytest.importorskip("tingshuo.quality", reason="tingshuo.quality not merged yet")
    d = browser
    d.get(server.url + "/")
    files = "\n".join(str(data_dir / n) for n in ("jfk.wav", "cathy_a0001.wav", "noise_cafe.wav"))
    d.find_element(By.ID, "insp-files").send_keys(files)
    d.find_element(By.ID, "insp-go").click()
    _wait(d, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#insp-results tbody tr")) == 3, 170, "inspection grades")
    grades = [e.text for e in d.find_elements(By.CSS_SELECTOR, "#insp-results td.grade")]
    assert set(grades) <= {"high", "medium", "low"}
    if SCREENSHOT:
        d.save_screenshot(str(Path(SCREENSHOT).with_suffix(".inspect.png")))
