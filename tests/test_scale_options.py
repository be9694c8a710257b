"""The Ray layer without a cluster: options and flags, the install hint, the driver's ordered output."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from tingshuo.asr.batch import Item, TranscriptSink
from tingshuo.errors import InputError
from tingshuo.options import from_mapping
from tingshuo.scale.options import RayOptions
from tingshuo.types import Segment, Transcript


def test_actor_ranges():
    assert RayOptions().actor_range(16) == (1, 16)
    assert RayOptions(actors="2:4").actor_range(16) == (2, 4)
    assert RayOptions(actors="3").actor_range(16) == (3, 3)
    assert RayOptions(cpus_per_actor=4, reserve_cpus=2).actor_range(16) == (1, 3)
    assert RayOptions(actors="1:auto", cpus_per_actor=2).actor_range(1) == (1, 1)
    assert RayOptions(cpus_per_actor=1.5).threads == 2


@pytest.mark.parametrize("bad", [{"actors": "0:2"}, {"actors": "4:2"}, {"actors": "many"}, {"cpus_per_actor": 0},
                                 {"items_per_batch": 0}, {"stall_timeout_s": -1}, {"reserve_cpus": -1},
                                 {"memory_gb_per_actor": 0}])
def test_bad_ray_options_are_one_sentence(bad):
    with pytest.raises(InputError) as err:
        from_mapping(RayOptions, bad)
    assert str(err.value).endswith(".") and "\n" not in str(err.value)


@pytest.mark.parametrize("verb", ["transcribe", "inspect", "index", "align"])
def test_flags_are_derived_once_and_shared(verb):
    out = subprocess.run([sys.executable, "-m", "tingshuo", verb, "--help"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    for flag in ("--ray ", "--ray-address ADDR", "--ray-actors MIN:MAX", "--ray-cpus-per-actor K",
                 "--ray-stall-timeout S", "--ray-batch N", "--ray-memory-per-actor GB"):
        assert flag in out.stdout, flag
    # an example that uses it, and the guide it points to
    assert any(line.strip().startswith(f"tingshuo {verb} ") and "--ray" in line for line in out.stdout.splitlines())
    assert "docs/scale.md" in out.stdout
    if verb in ("transcribe", "index"):
        assert "--batch-size" in out.stdout  # the recogniser's own, not clobbered by --ray-batch


def test_missing_ray_gives_the_install_hint(tmp_path, data_dir):
    code = ("import sys; sys.modules['ray'] = None; from tingshuo.cli import main; "
            f"sys.exit(main(['transcribe', {str(data_dir / 'cathy_a0005.wav')!r}, '-o', {str(tmp_path)!r}, '--ray']))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 3, r.stderr
    assert "pip install 'tingshuo[ray]'" in r.stderr and "Traceback" not in r.stderr


def test_import_tingshuo_scale_does_not_import_ray():
    code = "import sys, tingshuo.scale; print('ray' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def _t(i: int) -> Transcript:
    seg = Segment(0.0, 1.0, f"text {i}")
    return Transcript.from_segments((seg,), language="en", language_probability=1.0, duration_s=1.0, source=f"a{i}")


def test_sink_writes_ordered_streams_in_input_order_and_each_input_once(tmp_path, monkeypatch):
    items = [Item(f"a{i}.wav", tmp_path / f"a{i}", None, None) for i in range(6)]
    out = io.StringIO()
    sink = TranscriptSink("-", ("txt",), manifest_out=tmp_path / "m.jsonl", stdout=out)
    for i in (3, 1, 0, 5, 2):
        assert sink.write(i, items[i], _t(i))
    assert not sink.write(3, items[3], _t(3))  # a retried batch delivering again: ignored
    assert sink.fail(4, items[4]) and not sink.fail(4, items[4])
    sink.close()
    assert out.getvalue() == "".join(f"text {i}\n" for i in (0, 1, 2, 3, 5))
    rows = [json.loads(x)["audio"] for x in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert rows == [f"a{i}.wav" for i in (0, 1, 2, 3, 5)]


def test_sink_reorder_window_is_bounded(tmp_path, monkeypatch):
    import tingshuo.asr.batch as batch

    monkeypatch.setattr(batch, "REORDER_WINDOW", 3)
    items = [Item(f"a{i}.wav", tmp_path / f"a{i}", None, None) for i in range(8)]
    out = io.StringIO()
    sink = TranscriptSink("-", ("txt",), stdout=out)
    for i in range(1, 8):  # input 0 is slow (a re-pass after a lost node)
        sink.write(i, items[i], _t(i))
    assert out.getvalue().startswith("text 1\ntext 2\ntext 3\ntext 4\n")  # not held back forever
    sink.write(0, items[0], _t(0))
    sink.close()
    assert sorted(out.getvalue().splitlines()) == sorted(f"text {i}" for i in range(8))
