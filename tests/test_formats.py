"""Writers produce files that independent parsers (srt, webvtt-py) accept."""

import io
import json

import pytest

from tingshuo.asr.formats import parse_formats, render, timestamp, to_srt, to_tsv, to_vtt
from tingshuo.errors import InputError
from tingshuo.types import Segment, Transcript, Word


def sample_transcript() -> Transcript:
    words = tuple(Word(0.5 + 0.4 * i, 0.8 + 0.4 * i, w) for i, w in enumerate(
        "this is a deliberately long sentence that goes on and on so that it must be split into "
        "two or more subtitle cues because nobody can read it at once".split()))
    segs = (Segment(0.0, 2.5, "Hello there, --> world."),
            Segment(3723.5, 3725.0, "你好，世界。"),
            Segment(words[0].start_s, words[-1].end_s, " ".join(w.text for w in words), words))
    return Transcript.from_segments(segs, language="en", language_probability=0.9, duration_s=3800.0)


def test_timestamp():
    assert timestamp(3723.5) == "01:02:03,500"
    assert timestamp(0.0015, ".") == "00:00:00.002"


def test_srt_parses_and_keeps_times():
    import srt

    subs = list(srt.parse(to_srt(sample_transcript())))
    assert subs[0].start.total_seconds() == 0.0 and subs[0].end.total_seconds() == 2.5
    assert "-->" not in subs[0].content
    assert any(s.content == "你好，世界。" for s in subs)
    long = [s for s in subs if s.start.total_seconds() >= 0.5 and s.start.total_seconds() < 100]
    assert len(long) >= 2  # the long segment became several cues
    assert all(len(line) <= 42 for s in subs for line in s.content.split("\n"))
    assert [s.index for s in subs] == list(range(1, len(subs) + 1))


def test_vtt_parses():
    import webvtt

    vtt = to_vtt(sample_transcript())
    assert vtt.startswith("WEBVTT\n")
    captions = webvtt.from_buffer(io.StringIO(vtt)).captions
    assert captions[0].start == "00:00:00.000" and captions[1].start == "01:02:03.500"


def test_json_and_tsv():
    t = sample_transcript()
    data = json.loads(render(t, "json"))
    assert data["language"] == "en" and data["segments"][2]["words"][0]["word"] == "this"
    rows = to_tsv(t).splitlines()
    assert rows[0] == "start\tend\ttext" and rows[2].startswith("3723500\t3725000\t")


def test_parse_formats():
    assert parse_formats("srt, json") == ["srt", "json"]
    assert parse_formats("all") == ["txt", "srt", "vtt", "json", "tsv"]
    with pytest.raises(InputError, match="Unknown output format 'docx'"):
        parse_formats("srt,docx")
