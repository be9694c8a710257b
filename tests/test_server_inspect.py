"""POST /v1/inspect on a real `tingshuo serve` (needs tingshuo.quality, built in a parallel branch)."""

from __future__ import annotations

import importlib.util
import json

import pytest

httpx = pytest.importorskip("httpx")

JFK = "And so, my fellow Americans, ask not what your country can do for you, ask what you can do for your country."


def _has_quality() -> bool:
    try:
        return importlib.util.find_spec("tingshuo.quality") is not None
    except ImportError:
        return False


def test_inspect_grades_uploaded_clips(server, data_dir):
    if not _has_quality():
        pytest.skip("tingshuo.quality not merged yet")
    files = [("files", (n, (data_dir / n).read_bytes(), "audio/wav")) for n in ("jfk.wav", "noise_cafe.wav")]
    r = httpx.post(server.url + "/v1/inspect", files=files, data={"texts": [JFK, ""]}, timeout=170)
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["data"]) == 2 and sum(body["grades"].values()) == 2
    for result in body["data"]:
        assert result["grade"] in ("high", "medium", "low")
        assert isinstance(result["findings"], list)
    assert str(server.tmp_dir) not in json.dumps(body)  # the client's names, not temp paths
    by_id = {res.get("id"): res for res in body["data"]}
    assert set(by_id) == {"jfk.wav", "noise_cafe.wav"}
    assert by_id["noise_cafe.wav"]["grade"] != "high" or by_id["jfk.wav"]["grade"] == "high"


def test_inspect_parameter_errors(server, data_dir):
    if not _has_quality():
        pytest.skip("tingshuo.quality not merged yet")
    wav = (data_dir / "cathy_a0005.wav").read_bytes()
    r = httpx.post(server.url + "/v1/inspect", files=[("files", ("a.wav", wav))], data={"texts": ["one", "two"]})
    assert r.status_code == 422 and r.json()["error"]["param"] == "texts"
    r = httpx.post(server.url + "/v1/inspect", data={"texts": ["one"]})
    assert r.status_code == 422 and r.json()["error"]["param"] == "files"


def test_inspect_without_the_quality_module_is_503(server, data_dir):
    if _has_quality():
        pytest.skip("tingshuo.quality is installed; the 503 path cannot be reached")
    wav = (data_dir / "cathy_a0005.wav").read_bytes()
    r = httpx.post(server.url + "/v1/inspect", files=[("files", ("a.wav", wav))])
    assert r.status_code == 503
    assert "pip install" in r.json()["error"]["message"]
