"""The bad-input corpus through the decoder: every case accepted or refused as labelled, nothing crashes.

Decoding runs in ``IsolatedDecoder`` worker processes, so a regression that brings back a native
crash fails a test (``DecoderCrashed``) instead of killing pytest.
"""

from __future__ import annotations

import os
import signal
import struct

import numpy as np
import pytest

from tingshuo.audio.io import MAX_CHANNELS, load_audio, probe
from tingshuo.audio.isolated import CRASH_ENV, DecoderCrashed, IsolatedDecoder
from tingshuo.audio.truncation import has_xing_frame, ogg_cut_off
from tingshuo.errors import AudioDecodeError, AudioTooLongError, ManifestError
from tingshuo.testing.badaudio import make_corpus, speechlike, wav_bytes


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("badaudio"), long_s=20.0)


@pytest.fixture(scope="module")
def pool():
    p = IsolatedDecoder(workers=2, timeout_s=60)
    yield p
    p.close()


def test_every_case_is_accepted_or_refused_as_labelled(corpus, pool):
    wrong = []
    for case in corpus:
        try:
            audio = pool.load(case.path, 16000, label=case.path.name)
            got_ok, detail = True, f"{audio.duration_s:.2f} s"
            assert audio.sample_rate == 16000 and audio.samples.dtype == np.float32
            assert np.isfinite(audio.samples).all(), case.kind
        except DecoderCrashed as exc:
            got_ok, detail = None, str(exc)
        except AudioDecodeError as exc:
            got_ok, detail = False, str(exc)
            assert "\n" not in detail and case.path.name in detail, (case.kind, detail)
        if got_ok is not case.expect_ok:
            wrong.append((case.kind, case.expect_ok, detail))
    assert not wrong, wrong
    assert pool.crashes == 0


def test_refusals_say_what_is_wrong(corpus, pool):
    why = {"wav-8ch": None, "wav-65ch": "65 audio channels", "rate-1hz": "1 Hz", "float-nan": "NaN",
           "mp3-truncated": "truncated", "ogg-vorbis-truncated": "last Ogg page", "ogg-opus-truncated": "Ogg page",
           "flac-claims-years": "truncated", "wav-claims-4gb": "truncated", "broken-symlink": "broken symbolic link",
           "symlink-loop": "loops", "dir-named-wav": "directory", "fifo-named-wav": "named pipe",
           "video-without-audio": "no audio track", "wav-unknown-codec": "cannot decode", "zero-bytes": "empty"}
    by_kind = {c.kind: c for c in corpus}
    for kind, phrase in why.items():
        if kind not in by_kind:
            continue
        try:
            pool.load(by_kind[kind].path, 16000, label=by_kind[kind].path.name)
            message = None
        except AudioDecodeError as exc:
            message = str(exc)
        assert (message is None) if phrase is None else (phrase in (message or "")), (kind, message)


def test_channels_are_averaged_whatever_their_count(tmp_path):
    import soundfile as sf

    for n in (2, 7, 8, 9, 16, MAX_CHANNELS):
        levels = np.linspace(-0.5, 0.5, n, dtype=np.float32)  # a different DC level on every channel
        x = np.tile(levels, (1600, 1)) + 0.1 * np.sin(np.arange(1600) / 5.0)[:, None].astype(np.float32)
        sf.write(tmp_path / f"c{n}.wav", x, 16000, subtype="FLOAT")
        audio = load_audio(tmp_path / f"c{n}.wav")
        np.testing.assert_allclose(audio.samples, x.mean(axis=1), atol=1e-5)
    sf.write(tmp_path / "c65.wav", np.zeros((160, 65), np.float32), 16000)
    with pytest.raises(AudioDecodeError, match="65 audio channels"):
        probe(tmp_path / "c65.wav")


def test_a_lying_header_allocates_nothing_big(corpus):
    import resource

    by_kind = {c.kind: c for c in corpus}
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for kind in ("flac-claims-years", "wav-claims-4gb"):  # they claim 49 days and 18 hours
        with pytest.raises(AudioDecodeError, match="truncated"):
            load_audio(by_kind[kind].path)
    with pytest.raises(AudioTooLongError):  # a length limit reads the declared length first
        load_audio(by_kind["flac-claims-years"].path, max_duration_s=10)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 200, grown_mb


def test_streamed_wav_sizes_are_read_to_the_end(corpus):
    case = next(c for c in corpus if c.kind == "wav-streamed-sizes")
    info = probe(case.path)
    assert info.duration_s is not None and info.duration_s < 3  # capped by the file size, not 134217 s
    assert abs(load_audio(case.path).duration_s - 1.0) < 0.01


def test_truncation_detectors_on_whole_and_cut_files(tmp_path):
    from tingshuo.testing import encode_file

    x = speechlike(2.0)
    mp3 = encode_file(x, 16000, tmp_path / "a.mp3", "mp3").read_bytes()
    assert has_xing_frame(mp3[:65536])
    assert not has_xing_frame(b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" + bytes(400))
    ogg = encode_file(x, 16000, tmp_path / "a.ogg", "ogg").read_bytes()
    assert ogg_cut_off(ogg) is None
    assert "cut off" in ogg_cut_off(ogg[: len(ogg) - 100])
    # cut exactly at a page boundary: no end-of-stream page
    last = ogg.rfind(b"OggS")
    assert "end-of-stream" in ogg_cut_off(ogg[:last])
    load_audio(tmp_path / "a.mp3")
    load_audio(tmp_path / "a.ogg")


def test_pcm_header_lies_and_odd_wavs(tmp_path):
    pcm = (speechlike(1.0) * 32767).astype("<i2").tobytes()
    (tmp_path / "ok.wav").write_bytes(wav_bytes(pcm))
    assert abs(load_audio(tmp_path / "ok.wav").duration_s - 1.0) < 1e-3
    (tmp_path / "mask.wav").write_bytes(wav_bytes(pcm * 8, channels=8, channel_mask=0x63F))
    assert abs(load_audio(tmp_path / "mask.wav").duration_s - 1.0) < 1e-3  # 7.1 layout, 8 channels
    assert struct.unpack("<H", wav_bytes(pcm, channels=3)[22:24])[0] == 3


def test_a_decoder_that_dies_fails_one_file_and_is_replaced(tmp_path, monkeypatch):
    (tmp_path / "good.wav").write_bytes(wav_bytes((speechlike(0.5) * 32767).astype("<i2").tobytes()))
    monkeypatch.setenv(CRASH_ENV, "crash-marker")
    pool = IsolatedDecoder(workers=1, timeout_s=30)
    try:
        with pytest.raises(DecoderCrashed, match="SIGSEGV"):
            pool.load(tmp_path / "good.wav", 16000, label="crash-marker.wav")
        assert pool.crashes == 1
        assert pool.load(tmp_path / "good.wav", 16000, label="good.wav").n_samples == 8000
        pool.check(tmp_path / "good.wav", label="again.wav")
        with pytest.raises(DecoderCrashed):
            pool.check(tmp_path / "good.wav", label="crash-marker-again.wav")
        pool.check(tmp_path / "good.wav", label="good-again.wav")
        pids = [w.proc.pid for w in pool._idle]
    finally:
        pool.close()
    assert pids and not _still_running(pids, 10)


def _still_running(pids, timeout_s: float) -> set:
    """The pids among ``pids`` still alive (zombies count as gone) after up to ``timeout_s``."""
    import time

    deadline = time.monotonic() + timeout_s
    alive = set(pids)
    while alive and time.monotonic() < deadline:
        for pid in list(alive):
            try:
                with open(f"/proc/{pid}/stat") as fh:
                    if fh.read().rsplit(")", 1)[-1].split()[0] in ("Z", "X"):
                        alive.discard(pid)
            except (FileNotFoundError, ProcessLookupError):
                alive.discard(pid)
        if alive:
            time.sleep(0.2)
    return alive


def test_workers_exit_when_their_parent_is_killed(tmp_path):
    import subprocess
    import sys

    code = ("import sys, time; sys.path.insert(0, %r)\n"
            "from tingshuo.audio.isolated import IsolatedDecoder\n"
            "p = IsolatedDecoder(2); p.start(); print(' '.join(str(w.proc.pid) for w in p._idle), flush=True)\n"
            "time.sleep(60)\n") % str(__import__("pathlib").Path(__file__).resolve().parents[1])
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    pids = [int(x) for x in parent.stdout.readline().split()]
    assert len(pids) == 2
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    alive = _still_running(pids, 10)
    assert not alive, f"orphaned decoder workers: {alive}"


def test_folder_scan_reports_what_is_named_like_audio_but_is_not(corpus):
    from tingshuo.data.manifest import open_dataset

    folder = corpus[0].path.parent
    errors: list[ManifestError] = []
    records = list(open_dataset(folder).records(on_error=errors.append))
    reported = sorted(str(e).split(" ")[0].rsplit("/", 1)[-1] for e in errors)
    assert reported == ["broken-link.wav", "folder.mp3", "folder.wav", "loop.wav", "pipe.wav"], errors
    names = {os.path.basename(r.audio) for r in records}
    assert "good-link.wav" in names and "ch08.wav" in names and "folder.wav" not in names


def test_a_folder_named_like_audio_with_audio_inside_is_just_a_folder(tmp_path):
    from tingshuo.data.manifest import open_dataset

    (tmp_path / "album.wav").mkdir()
    (tmp_path / "album.wav" / "track.wav").write_bytes(wav_bytes(b"\x00\x00" * 160))
    errors: list = []
    records = list(open_dataset(tmp_path).records(on_error=errors.append))
    assert not errors and [os.path.basename(r.audio) for r in records] == ["track.wav"]
