"""Hostile inputs on align / serve / scale (qa5): each test fails without the fix it names.

Texts in legacy encodings, form fields sent twice or as files, speech requests that would run for
many minutes, markup-looking prose, and SIGTERM to a driver that started a local Ray.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tingshuo.errors import InputError

REPO = Path(__file__).resolve().parents[1]
JFK = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."


def cli(*args, timeout=120, **kw):
    return subprocess.run([sys.executable, "-m", "tingshuo", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, **kw)


# ---- text files -------------------------------------------------------------------------------


@pytest.mark.parametrize("data, says", [
    ("广州市房地产中介协会分析".encode("gbk"), "GBK/GB18030"),
    ("广州市房地产中介协会分析".encode("gb18030"), "GBK/GB18030"),
    ("廣州市房地產中介協會分析".encode("big5"), "Big5"),
    ("your country\u2019s caf\u00e9".encode("cp1252"), "Windows-1252"),
    (JFK.encode("utf-16-le"), "UTF-16 without its byte-order mark"),
], ids=["gbk", "gb18030", "big5", "cp1252", "utf16-without-bom"])
def test_a_text_file_in_a_legacy_encoding_is_named_with_the_fix(data, says):
    """Was "is not UTF-8 text; save it as UTF-8" for all: a Mandarin user with a GBK file (Notepad's ANSI
    on Chinese Windows) was not told what it is nor how to convert it."""
    from tingshuo.data.text import decode_text

    with pytest.raises(InputError) as err:
        decode_text(data, "script.txt")
    assert "script.txt" in str(err.value) and says in str(err.value) and "\n" not in str(err.value)
    assert decode_text(b"\xef\xbb\xbf" + JFK.encode(), "x") == JFK
    with pytest.raises(InputError, match="is audio, not a text file"):  # AUDIO and TEXT swapped
        decode_text(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(64), "talk.wav")
    assert decode_text("分析".encode("utf-16"), "x") == "分析"


def test_align_cli_names_the_encoding_of_a_gbk_text(tmp_path, data_dir):
    text = tmp_path / "讲稿.txt"
    text.write_bytes("广州市房地产中介协会分析".encode("gbk"))
    r = cli("align", data_dir / "zh_aishell_S0724W0121.wav", text, "-o", tmp_path / "out")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "GBK/GB18030" in r.stderr and "iconv -f GB18030" in r.stderr
    assert not (tmp_path / "out").exists()


def test_align_never_writes_over_its_text_or_manifest_and_bad_output_paths_are_one_line(tmp_path, data_dir):
    """`align talk.wav talk.json` replaced the text with the alignment; `align manifest.jsonl -o .
    --segment --skip-existing` appended clip lines to the input manifest; `-o talk.wav`, `-o /dev/null`,
    `-o /proc/x` were "unexpected FileExistsError / FileNotFoundError" (exit 70)."""
    import shutil

    shutil.copy(data_dir / "jfk.wav", tmp_path / "jfk.wav")
    text = tmp_path / "jfk.json"
    text.write_text(JFK)
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text(json.dumps({"audio": "jfk.wav", "text": JFK}) + "\n")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    cases = [(["jfk.wav", "jfk.json"], "over the input jfk.json"),
             (["manifest.jsonl", "-o", ".", "--segment", "--skip-existing"], "over the input manifest.jsonl"),
             (["jfk.wav", "jfk.json", "-o", "jfk.wav"], "is a file, not a folder"),
             (["jfk.wav", "jfk.json", "-o", "/dev/null", "-f", "srt"], "is a file, not a folder"),
             (["jfk.wav", "jfk.json", "-o", "/proc/x"], "Cannot create the output folder /proc/x"),
             (["jfk.json", "jfk.wav"], "jfk.wav is audio, not a text file")]
    for args, says in cases:
        r = cli("align", *args, cwd=tmp_path)
        assert r.returncode == 1 and says in r.stderr and "Traceback" not in r.stderr, (args, r.stderr[-800:])
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name != ".tingshuo.lock"}  # --segment's lock
    assert after == before


# ---- /v1/align forms --------------------------------------------------------------------------


def _align(server, files):
    import httpx

    return httpx.post(server.url + "/v1/align", files=files, timeout=300)


def test_align_form_fields_sent_twice_are_refused_not_silently_the_last(server, data_dir):
    """FastAPI kept the last 'file' (the broken one, so the error named another upload) and the last
    'text' (so the first text was never aligned: "0% heard")."""
    wav = (data_dir / "jfk.wav").read_bytes()
    r = _align(server, [("file", ("a.wav", wav, "audio/wav")), ("file", ("b.wav", b"junk", "audio/wav")),
                        ("text", (None, JFK))])
    assert r.status_code == 422 and r.json()["error"]["param"] == "file" and "2 times" in r.json()["error"]["message"]
    r = _align(server, [("file", ("a.wav", wav, "audio/wav")), ("text", (None, JFK)), ("text", (None, "zzz"))])
    assert r.status_code == 422 and r.json()["error"]["param"] == "text"


def test_align_text_sent_as_a_file_part_or_in_another_encoding(server, data_dir):
    """`curl -F text=@script.txt` (a file part) was 422 "Input should be a valid string"; a UTF-16 or GBK
    field was decoded as Latin-1 by Starlette and aligned as mojibake ("0% heard", "the text is English")."""
    wav = (data_dir / "jfk.wav").read_bytes()
    r = _align(server, {"file": ("a.wav", wav, "audio/wav"), "text": ("script.txt", JFK.encode("utf-16"), "text/plain")})
    assert r.status_code == 200, r.text
    assert [w["text"] for w in r.json()["words"]][:3] == ["And", "so", "my"]
    r = _align(server, {"file": ("a.wav", wav, "audio/wav"), "text": (None, JFK.encode("utf-16"))})
    assert r.status_code == 200, r.text
    assert [w["text"] for w in r.json()["words"]][:3] == ["And", "so", "my"]
    zh = (data_dir / "zh_aishell_S0724W0121.wav").read_bytes()
    r = _align(server, {"file": ("zh.wav", zh, "audio/wav"), "text": (None, "广州市房地产中介协会分析".encode("gbk"))})
    assert r.status_code == 422 and "GBK" in r.json()["error"]["message"], r.text
    r = _align(server, {"file": ("zh.wav", zh, "audio/wav"), "text": ("t.txt", "广州市房地产".encode("gbk"))})
    assert r.status_code == 422 and "GBK" in r.json()["error"]["message"], r.text
    r = _align(server, {"file": ("a.wav", wav, "audio/wav"), "text": (None, JFK.encode("utf-16-le"))})
    assert r.status_code == 422 and r.json()["error"]["param"] == "text"


# ---- /v1/audio/speech ---------------------------------------------------------------------------


def test_speech_takes_an_empty_voice_as_the_default_like_the_cli(server):
    import httpx

    r = httpx.post(server.url + "/v1/audio/speech", json={"input": "Hello there.", "voice": "", "response_format": "wav"},
                   timeout=120)
    assert r.status_code == 200 and r.content[:4] == b"RIFF"


def test_speech_that_would_run_for_many_minutes_is_a_413_before_any_audio(server):
    """4096 digits are read one by one: 955 s of audio and 141 s of synthesis for one 4 kB request."""
    import httpx

    t0 = time.monotonic()
    r = httpx.post(server.url + "/v1/audio/speech", json={"input": "9" * 4096, "response_format": "wav"}, timeout=120)
    assert r.status_code == 413, r.text[:200]
    err = r.json()["error"]
    assert err["param"] == "input" and "--max-speech-s" in err["message"] and "minutes" in err["message"]
    assert time.monotonic() - t0 < 30  # refused on the estimate, not after synthesis


def test_markup_looking_prose_is_read_not_dropped():
    """`x <y> z` lost `<y>` (taken for an HTML tag): only markup elements, closed or attributed tags go."""
    from tingshuo.tts.normalize import strip_markup

    assert strip_markup("x <y> z") == "x <y> z"
    assert strip_markup("press <Enter> to go") == "press <Enter> to go"
    assert strip_markup('<speak>Hi<break time="1s"/>there</speak>').split() == ["Hi", "there"]
    assert strip_markup("<b>bold</b> and <foo>bar</foo>").split() == ["bold", "and", "bar"]
    assert strip_markup("line<br>next").split() == ["line", "next"]


def test_server_refuses_a_nan_limit():
    from tingshuo.server.config import ServerConfig

    with pytest.raises(ValueError):
        ServerConfig(max_speech_s=float("nan"))
    with pytest.raises(ValueError):
        ServerConfig(max_audio_s=float("nan"))


# ---- Ray: SIGTERM to a driver that started a local Ray ---------------------------------------

SIGTERM_SCRIPT = """
import os, signal, sys, time
from tingshuo.cli import _terminate_like_interrupt
from tingshuo.scale.cluster import connect
from tingshuo.scale.options import RayOptions
_terminate_like_interrupt()
try:
    with connect(RayOptions(enabled=True), num_cpus=1):
        print("connected", flush=True)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(60)
    print("not stopped", flush=True)
except KeyboardInterrupt:
    print("stopped cleanly", flush=True)
    sys.exit(143)
"""


@pytest.mark.slow
@pytest.mark.ray
def test_sigterm_to_a_driver_with_a_local_ray_stops_it_cleanly(tmp_path):
    """ray.init replaced the CLI's SIGTERM handler (and its core worker added a native one): SIGTERM to
    `tingshuo align --segment --ray` printed "*** SIGTERM received ..." with a native stack and aborted
    (exit 134) — no finally block ran, no "interrupted" line, no ray.shutdown."""
    pytest.importorskip("ray.data", reason="needs Ray: pip install 'tingshuo[ray]'")
    import tempfile

    from tingshuo.testing.ray import MARKER_VARIABLE, ray_processes

    token = tmp_path / "token"
    token.write_text("qa5-test-token-" + "0" * 40)
    ray_tmp = tempfile.mkdtemp(prefix="tsr-", dir="/tmp")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token), RAY_TMPDIR=ray_tmp,
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    env[MARKER_VARIABLE] = f"qa5-{os.getpid()}-{time.time_ns()}"
    mark = f"{MARKER_VARIABLE}={env[MARKER_VARIABLE]}"
    r = subprocess.run([sys.executable, "-c", SIGTERM_SCRIPT], capture_output=True, text=True, env=env, timeout=240)
    assert "connected" in r.stdout, r.stderr[-2000:]
    assert r.returncode == 143 and "stopped cleanly" in r.stdout, (r.returncode, r.stdout, r.stderr[-2000:])
    assert "SIGTERM received" not in r.stderr
    deadline = time.monotonic() + 20
    while ray_processes(mark) and time.monotonic() < deadline:
        time.sleep(0.5)
    import shutil

    shutil.rmtree(ray_tmp, ignore_errors=True)
    assert not ray_processes(mark), "the local Ray outlived its driver"


def test_two_segment_runs_into_one_folder_do_not_both_write_it(tmp_path, data_dir):
    """Two `align m.jsonl -o shared --segment` at once both finished rc 0 and listed every clip twice in
    shared/manifest.jsonl (the summary said 3 clips, the manifest held 6 lines)."""
    from tingshuo.data.outlock import folder_lock

    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"audio": str(data_dir / "jfk.wav"), "text": JFK}) + "\n")
    shared = tmp_path / "shared"
    shared.mkdir()
    with folder_lock(shared, "another run"):
        r = cli("align", manifest, "-o", shared, "--segment")
    assert r.returncode == 1 and "is writing to" in r.stderr and str(shared) in r.stderr, r.stderr
    assert not (shared / "manifest.jsonl").exists()
    with folder_lock(shared, "first"):  # released when the holder ends: a later run (or resume) is not blocked
        pass


def test_endless_standard_input_is_refused_not_read_until_memory_runs_out(data_dir):
    """`tingshuo align a.wav - < /dev/zero` (or `yes | ...`) and `tingshuo chat --text < /dev/zero` read
    stdin whole: "unexpected MemoryError" under a 3 GB ulimit, the whole machine's memory without one."""
    import io

    from tingshuo.cli.chat import MAX_TURN_READ, _read_turn

    with open("/dev/zero", "rb") as zero:
        r = subprocess.run([sys.executable, "-m", "tingshuo", "align", str(data_dir / "jfk.wav"), "-"], stdin=zero,
                           capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "the text on stdin is over 64 MB" in r.stderr, r.stderr[-500:]
    long_line = io.StringIO("x" * (3 * MAX_TURN_READ) + "\nhello\n")
    assert len(_read_turn(long_line)) == MAX_TURN_READ  # cut: the pipeline refuses it as too long
    assert _read_turn(long_line) == "hello\n" and _read_turn(long_line) == ""

    class Zeros(io.TextIOBase):
        def readline(self, size=-1):
            return "\0" * size

    assert _read_turn(Zeros()) is None


def test_a_ray_address_that_is_another_service_is_one_line_at_once():
    """--ray-address at a web server (the wrong port, the tingshuo server itself) made ray.init retry for
    minutes (still waiting after 150 s, printing Ray's warnings): the TCP check passed."""
    import socket
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from tingshuo.scale.cluster import _check_reachable

    http = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    closer = socket.socket()
    closer.bind(("127.0.0.1", 0))
    closer.listen(1)

    def close_at_once():
        conn, _ = closer.accept()
        conn.close()

    threading.Thread(target=http.serve_forever, daemon=True).start()
    threading.Thread(target=close_at_once, daemon=True).start()
    try:
        t0 = time.monotonic()
        for port, says in ((http.server_address[1], ""), (closer.getsockname()[1], "")):  # closed or reset, by timing
            with pytest.raises(InputError) as err:
                _check_reachable(f"127.0.0.1:{port}")
            assert "not as a Ray head node" in str(err.value) and says in str(err.value)
        assert time.monotonic() - t0 < 5
    finally:
        http.shutdown()
        closer.close()


def test_index_into_a_folder_that_cannot_be_made_is_one_line(tmp_path, data_dir):
    """`tingshuo index a.wav --index /proc/x/lib` (or a folder on a read-only disk) was "unexpected
    FileNotFoundError / OSError: Read-only file system" (exit 70)."""
    r = cli("index", data_dir / "jfk.wav", "--index", "/proc/x/lib")
    assert r.returncode == 1 and "Cannot create the output folder /proc/x/lib" in r.stderr, r.stderr[-500:]
    (tmp_path / "afile").write_text("x")
    r = cli("index", data_dir / "jfk.wav", "--index", tmp_path / "afile")
    assert r.returncode == 1 and "is a file, not a folder" in r.stderr and "Traceback" not in r.stderr


def test_a_full_disk_is_one_line_not_an_unexpected_error(monkeypatch, tmp_path, capsys):
    """On a full disk (a 300 kB tmpfs here) `align --segment` ended "unexpected OSError: [Errno 28] No space
    left on device" (exit 70) and `speak -o x.wav` "unexpected LibsndfileError: System error." (exit 70)."""
    import errno
    import shutil

    import tingshuo.cli as cli_main
    import tingshuo.cli.voices as voices
    from tingshuo.tts.writer import AudioFileWriter

    def full(args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/data/out/clip.wav")

    monkeypatch.setattr(voices, "run", full)
    assert cli_main.main(["voices"]) == 1
    err = capsys.readouterr().err
    assert "No space left on device while writing /data/out/clip.wav" in err and "unexpected" not in err

    writer = AudioFileWriter(tmp_path / "x.wav", 16000)

    class Broken:
        def write(self, x):
            raise RuntimeError("System error.")  # what libsndfile says

        def close(self):
            pass

    writer._sf = Broken()
    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**9, 10**9, 0))
    with pytest.raises(OSError) as exc:
        writer.write(np.zeros(160, np.float32))
    assert exc.value.errno == errno.ENOSPC and exc.value.filename == str(tmp_path / "x.wav")
    writer.abort()
    assert not list(tmp_path.iterdir())


def test_server_out_of_disk_space_is_a_507_without_paths(monkeypatch):
    """An upload to a server whose temp disk is full was 500 "The server failed on this request (OSError:
    [Errno 28] No space left on device: '/tmp/tingshuo-upload-....wav')", the server's temp path included."""
    import errno

    pytest.importorskip("fastapi", reason="needs the server extra: pip install 'tingshuo[server]'")
    from fastapi.testclient import TestClient

    import tingshuo.server.uploads as uploads
    from tingshuo.server.app import create_app
    from tingshuo.server.config import ServerConfig

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/tmp/tingshuo-upload-x.wav")

    monkeypatch.setattr(uploads, "_copy", full)
    with TestClient(create_app(ServerConfig(preload=False)), raise_server_exceptions=False) as client:
        r = client.post("/v1/audio/transcriptions", files={"file": ("a.wav", b"RIFF....", "audio/wav")})
    assert r.status_code == 507 and "out of disk space" in r.json()["error"]["message"]
    assert "/tmp" not in r.text
