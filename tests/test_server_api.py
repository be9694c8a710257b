"""The HTTP API against a real `tingshuo serve` process, through the official openai client and httpx."""

from __future__ import annotations

import concurrent.futures
import io
import re

import numpy as np
import pytest

httpx = pytest.importorskip("httpx")
openai = pytest.importorskip("openai")

from tingshuo.testing.server import leftover_files  # noqa: E402


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0, timeout=120)


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))


def test_transcription_json_and_text(client, data_dir):
    with open(data_dir / "jfk.wav", "rb") as f:
        r = client.audio.transcriptions.create(model="whisper-1", file=f)
    assert {"fellow", "americans", "country"} <= _words(r.text)
    with open(data_dir / "jfk.wav", "rb") as f:
        text = client.audio.transcriptions.create(model="whisper-1", file=f, response_format="text")
    assert isinstance(text, str) and "country" in text.lower()


def test_transcription_verbose_json_with_words(client, data_dir):
    with open(data_dir / "jfk.wav", "rb") as f:
        r = client.audio.transcriptions.create(model="whisper-1", file=f, response_format="verbose_json",
                                               timestamp_granularities=["word", "segment"])
    assert r.language == "en" and abs(r.duration - 11.0) < 0.1
    assert r.segments and r.segments[0].start < 1.0 and r.segments[-1].end <= 11.1
    words = [w.word.strip(",.").lower() for w in r.words]
    assert "americans" in words
    starts = [w.start for w in r.words]
    assert starts == sorted(starts) and all(w.end >= w.start for w in r.words)


def test_transcription_mandarin_srt_and_vtt(client, data_dir):
    with open(data_dir / "zh_funasr_example.wav", "rb") as f:
        srt = client.audio.transcriptions.create(model="whisper-1", file=f, response_format="srt", language="zh")
    assert srt.startswith("1\n00:00:0") and "-->" in srt and re.search(r"[\u4e00-\u9fff]", srt)
    with open(data_dir / "jfk.wav", "rb") as f:
        vtt = client.audio.transcriptions.create(model="whisper-1", file=f, response_format="vtt")
    assert vtt.startswith("WEBVTT") and "-->" in vtt


def test_translation_to_english(client, data_dir):
    with open(data_dir / "zh_funasr_example.wav", "rb") as f:
        r = client.audio.translations.create(model="whisper-1", file=f)
    assert r.text and not re.search(r"[\u4e00-\u9fff]", r.text)


def test_speech_streams_audio_that_transcribes_back(client, server):
    import soundfile as sf

    text = "Good morning. The meeting starts at nine."
    with client.audio.speech.with_streaming_response.create(model="tts-1", voice="alloy", input=text,
                                                            response_format="wav") as resp:
        assert resp.headers["content-type"].startswith("audio/wav")
        pieces = list(resp.iter_bytes())
    data = b"".join(pieces)
    assert data[:4] == b"RIFF" and len(data) > 20000
    samples = np.frombuffer(data[44:], "<i2")
    rate = int.from_bytes(data[24:28], "little")
    assert 1.0 < samples.size / rate < 10 and np.abs(samples).max() > 1000
    buf = io.BytesIO()
    sf.write(buf, samples, rate, format="WAV")
    buf.seek(0)
    buf.name = "speech.wav"
    heard = client.audio.transcriptions.create(model="whisper-1", file=buf, language="en")
    assert {"morning", "meeting"} <= _words(heard.text)


@pytest.mark.parametrize("fmt", ["mp3", "opus", "flac", "pcm"])
def test_speech_formats(client, fmt):
    import av

    r = client.audio.speech.create(model="tts-1", voice="en-joe", input="One two three.", response_format=fmt,
                                   speed=1.2)
    data = r.read()
    if fmt == "pcm":  # OpenAI's pcm: 24 kHz 16-bit mono
        assert 0.5 < len(data) / 2 / 24000 < 4
        return
    with av.open(io.BytesIO(data)) as c:
        n = sum(fr.samples for fr in c.decode(audio=0))
        rate = c.streams.audio[0].rate
    assert 0.5 < n / rate < 4


def test_models_health_metrics(client, server):
    ids = [m.id for m in client.models.list()]
    assert "whisper-1" in ids and "tts-1" in ids
    h = httpx.get(server.url + "/healthz").json()
    assert h["status"] == "ok" and h["models_loaded"]
    text = httpx.get(server.url + "/metrics").text
    assert re.search(r'tingshuo_requests_total\{route="/v1/audio/transcriptions",method="POST",status="200"\} \d+', text)
    assert "tingshuo_request_duration_seconds_bucket" in text and "tingshuo_queue_depth" in text
    assert re.search(r'tingshuo_audio_seconds_total\{route="/v1/audio/transcriptions"\} [1-9]', text)
    page = httpx.get(server.url + "/")
    assert page.status_code == 200 and "tingshuo" in page.text
    assert httpx.get(server.url + "/static/app.js").status_code == 200


def _batch_counts(url: str) -> tuple[int, int]:
    text = httpx.get(url + "/metrics").text
    le1 = int(re.search(r'tingshuo_asr_batch_size_bucket\{le="1"\} (\d+)', text).group(1))
    total = int(re.search(r"tingshuo_asr_batch_size_count (\d+)", text).group(1))
    return le1, total


def test_concurrent_requests_are_batched(server, data_dir):
    clips = ["jfk.wav", "cathy_a0001.wav", "cathy_a0005.wav", "zh_funasr_example.wav"] * 2
    le1_before, total_before = _batch_counts(server.url)

    def post(name):
        with open(data_dir / name, "rb") as f:
            return httpx.post(server.url + "/v1/audio/transcriptions", files={"file": (name, f.read())},
                              data={"model": "whisper-1"}, timeout=120)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(post, clips))
    assert [r.status_code for r in results] == [200] * len(clips)
    assert all(r.json()["text"] for r in results)
    le1, total = _batch_counts(server.url)
    batches = total - total_before
    assert batches < len(clips), "eight concurrent requests should share batches"
    assert total - le1 > total_before - le1_before, "at least one batch held more than one request"


def _error(resp, status: int, param: str | None = None) -> dict:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body["error"]) >= {"type", "message"} and body["error"]["message"]
    if param is not None:
        assert body["error"].get("param") == param
    return body["error"]


def test_bad_uploads_are_400(server, data_dir, tmp_path):
    url = server.url + "/v1/audio/transcriptions"
    e = _error(httpx.post(url, files={"file": ("notes.txt", b"this is not audio at all " * 40)}), 400)
    assert e["type"] == "AudioDecodeError" and "notes.txt" in e["message"] and str(server.tmp_dir) not in e["message"]
    _error(httpx.post(url, files={"file": ("empty.wav", b"")}), 400)
    wav = (data_dir / "jfk.wav").read_bytes()
    _error(httpx.post(url, files={"file": ("cut.wav", wav[:60])}), 400)


def test_wrong_parameters_are_422_naming_the_field(server, data_dir):
    url = server.url + "/v1/audio/transcriptions"
    wav = (data_dir / "cathy_a0001.wav").read_bytes()
    _error(httpx.post(url, data={"model": "whisper-1"}), 422, "file")
    _error(httpx.post(url, files={"file": ("a.wav", wav)}, data={"response_format": "xml"}), 422, "response_format")
    _error(httpx.post(url, files={"file": ("a.wav", wav)}, data={"language": "klingon"}), 422, "language")
    _error(httpx.post(url, files={"file": ("a.wav", wav)}, data={"temperature": "hot"}), 422, "temperature")
    _error(httpx.post(url, files={"file": ("a.wav", wav)}, data={"temperature": "3"}), 422, "temperature")
    _error(httpx.post(url, files={"file": ("a.wav", wav)}, data={"model": "gpt-9"}), 422, "model")
    speech = server.url + "/v1/audio/speech"
    _error(httpx.post(speech, json={"input": "hi", "voice": "nobody"}), 422, "voice")
    _error(httpx.post(speech, json={"input": "hi", "speed": 9}), 422, "speed")
    _error(httpx.post(speech, json={"input": "hi", "response_format": "midi"}), 422, "response_format")
    _error(httpx.post(speech, json={"voice": "alloy"}), 422, "input")
    e = _error(httpx.post(speech, json={"input": "?!…"}), 400)
    assert "nothing to speak" in e["message"]
    _error(httpx.get(server.url + "/v1/nothing-here"), 404)


def test_openai_client_sees_errors(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.audio.transcriptions.create(model="whisper-1", file=("bad.mp3", b"\x00" * 2000))
    assert "bad.mp3" in str(info.value)


def test_no_upload_is_left_behind(server, data_dir):
    # every request above (good, bad, cut, empty) has finished; the server's TMPDIR holds no file
    url = server.url + "/v1/audio/transcriptions"
    httpx.post(url, files={"file": ("x.wav", (data_dir / "cathy_a0005.wav").read_bytes())}, timeout=120)
    assert leftover_files(server.tmp_dir) == []
