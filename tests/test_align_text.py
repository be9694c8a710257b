"""Alignment without models: text units and their map back, output formats parsed back, clip planning,
the pause and duration rules."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from tingshuo.align.base import AlignedWord, Alignment, AlignOptions, Unaligned
from tingshuo.align.formats import parse_formats, render, sentences
from tingshuo.align.refine import pack_pauses, split_at_pauses, unpack_time, widen_short
from tingshuo.align.segment import (DROP_NO_PAUSE, DROP_UNALIGNED, SegmentOptions, error_rate, plan_clips,
                                    tidy_text)
from tingshuo.align.text import keys_of, units
from tingshuo.errors import InputError


def test_units_keep_the_written_text_and_read_numbers_as_words():
    text = "Dr. Lee paid $1,200 at 3:30 pm on March 5, 2024."
    us = units(text, "en")
    assert [text[u.start:u.end] for u in us] == [u.text for u in us]
    by = {u.text: u for u in us}
    assert by["$1,200"].spoken == "one thousand two hundred dollars"
    assert by["$1,200"].keys == ("one", "thousand", "two", "hundred", "dollars")
    assert by["Dr."].keys == ("doctor",)
    assert by["pm"].keys == ("p", "m")
    assert by["5,"].keys == ("fifth",) and by["2024."].keys == ("twenty", "twenty", "four")
    assert text[by["2024."].core_start:by["2024."].core_end] == "2024"
    assert us[-1].sentence_end and by["5,"].clause_end


def test_chinese_units_are_characters_and_numbers_map_back():
    text = "会议定于2024年3月5日，门票¥50。我用Python写代码。"
    us = units(text, "zh")
    assert [u.text for u in us][:6] == ["会", "议", "定", "于", "2024", "年"]
    by = {u.text.rstrip("，。"): u for u in us}
    assert by["2024"].keys == ("二", "零", "二", "四")
    assert by["¥50"].keys == ("五", "十", "元")
    assert by["Python"].keys == ("python",)
    assert all(len(u.text.rstrip("，。")) == 1 for u in us if u.is_cjk)
    assert keys_of("體驗", "zh") == ("体", "验")  # traditional matches simplified


def test_units_of_odd_text():
    assert units("", "en") == [] and units(" \n\t", "en") == []
    assert units("— … !!!", "en") == []  # nothing speakable
    long = " ".join(["word"] * 20000)  # normalised block by block
    assert len(units(long, "en")) == 20000
    us = units("“Hello,” she said — twice…", "en")
    assert [u.text for u in us] == ["“Hello,”", "she", "said —", "twice…"]
    assert us[0].keys == ("hello",)


def _alignment() -> Alignment:
    text = "Hello world. This is a test,\nwith two lines."
    us = units(text, "en")
    t, words = 0.5, []
    for u in us:
        words.append(AlignedWord(text[u.core_start:u.core_end], t, t + 0.3, 0.9, offset=u.core_start))
        t += 0.4 if not u.sentence_end else 1.0
    un = (Unaligned("[applause]", 1.2, 1.9, "speech"), Unaligned("Preface", 0.0, 0.0, "text", offset=-1))
    return Alignment("dir/talk one.wav", "en", tuple(words), un, duration_s=t + 1.0, text=text)


def test_json_keeps_the_contract_names():
    d = json.loads(render(_alignment(), "json"))
    assert set(d) >= {"audio", "language", "words", "unaligned"}
    assert set(d["words"][0]) == {"text", "start_s", "end_s", "score"}
    assert set(d["unaligned"][0]) >= {"text", "start_s", "end_s"}


def _parse_textgrid(s: str) -> dict:
    assert s.startswith('File type = "ooTextFile"\nObject class = "TextGrid"')
    xmax = float(re.search(r"^xmax = ([\d.]+)", s, re.M).group(1))
    tiers = {}
    for block in s.split("    item [")[1:]:
        name = re.search(r'name = "(.*)"', block).group(1)
        n = int(re.search(r"intervals: size = (\d+)", block).group(1))
        ivs = re.findall(r'xmin = ([\d.]+)\n\s+xmax = ([\d.]+)\n\s+text = "((?:[^"]|"")*)"', block)
        assert len(ivs) == n
        tiers[name] = [(float(a), float(b), t.replace('""', '"')) for a, b, t in ivs]
    return {"xmax": xmax, "tiers": tiers}


def test_textgrid_parses_back_with_contiguous_tiers():
    a = _alignment()
    tg = _parse_textgrid(render(a, "textgrid"))
    assert set(tg["tiers"]) == {"words", "sentences", "unaligned"}
    for ivs in tg["tiers"].values():
        assert ivs[0][0] == 0.0 and abs(ivs[-1][1] - tg["xmax"]) < 1e-6
        assert all(abs(ivs[k][1] - ivs[k + 1][0]) < 1e-6 and ivs[k][1] > ivs[k][0] for k in range(len(ivs) - 1))
    labels = [t for _, _, t in tg["tiers"]["words"] if t]
    assert labels == [w.text for w in a.words]
    assert [t for _, _, t in tg["tiers"]["sentences"] if t] == ["Hello world.", "This is a test,",
                                                                  "with two lines."]
    assert any("[applause]" in t for _, _, t in tg["tiers"]["unaligned"])


def test_ctm_srt_vtt_parse_back():
    a = _alignment()
    rows = [line.split() for line in render(a, "ctm").splitlines()]
    assert len(rows) == len(a.words) and all(len(r) == 6 for r in rows)
    assert rows[0][0] == "talk_one" and rows[0][4] == "Hello" and float(rows[0][2]) == 0.5
    assert all(float(r[3]) >= 0 and 0 <= float(r[5]) <= 1 for r in rows)
    srt = render(a, "srt")
    cues = [c for c in srt.strip().split("\n\n")]
    stamp = re.compile(r"^(\d\d):(\d\d):(\d\d),(\d{3}) --> (\d\d):(\d\d):(\d\d),(\d{3})$")
    texts = []
    for n, cue in enumerate(cues, 1):
        lines = cue.split("\n")
        assert lines[0] == str(n) and stamp.match(lines[1])
        texts.append(" ".join(lines[2:]))
    assert texts == ["Hello world.", "This is a test,", "with two lines."]  # the text as written
    vtt = render(a, "vtt")
    assert vtt.startswith("WEBVTT\n") and vtt.count("-->") == 3
    srt_lib = pytest.importorskip("srt")  # the libraries subtitle tools use read them back too
    subs = list(srt_lib.parse(srt))
    assert [s.content.replace("\n", " ") for s in subs] == texts
    assert subs[0].start.total_seconds() == pytest.approx(a.words[0].start_s, abs=0.001)
    webvtt = pytest.importorskip("webvtt")
    import io

    read = getattr(webvtt, "from_buffer", None) or webvtt.read_buffer
    cues = read(io.StringIO(vtt))
    assert [c.text.replace("\n", " ") for c in cues] == texts
    assert parse_formats("all") == ["json", "textgrid", "ctm", "srt", "vtt"]
    with pytest.raises(InputError):
        parse_formats("json,docx")


def test_sentences_of_chinese_have_no_spaces():
    text = "广州市房地产。中介协会分析"
    us = units(text, "zh")
    words = tuple(AlignedWord(text[u.core_start:u.core_end], k * 0.2, k * 0.2 + 0.2, 1.0, offset=u.core_start)
                  for k, u in enumerate(us))
    segs = sentences(Alignment("a.wav", "zh", words, (), 3.0, text))
    assert [s.text for s in segs] == ["广州市房地产。", "中介协会分析"]


def _words(spec, text):
    """AlignedWords for ``text``'s units at the given (start, end) times."""
    us = units(text, "en")
    return tuple(AlignedWord(text[u.core_start:u.core_end], a, b, 0.9, offset=u.core_start)
                 for u, (a, b) in zip(us, spec))


def test_plan_cuts_at_sentence_pauses_within_the_length_range():
    text = "One two three. Four five six. Seven eight nine."
    spec = [(0.5, 1.0), (1.0, 1.6), (1.6, 2.4), (3.4, 4.0), (4.0, 4.6), (4.6, 5.4), (6.4, 7.0), (7.0, 7.6),
            (7.6, 8.4)]
    a = Alignment("x.wav", "en", _words(spec, text), (), 9.0, text)
    plan = plan_clips(a, SegmentOptions(min_s=1.0, max_s=5.0))
    assert [c.text for c in plan.clips] == ["One two three.", "Four five six.", "Seven eight nine."]
    assert all(1.0 <= c.duration_s <= 5.0 for c in plan.clips)
    assert plan.clips[0].start_s == pytest.approx(0.35) and plan.clips[0].end_s == pytest.approx(2.55)
    # a clip never holds unaligned speech, and no pause within range means a drop with its reason
    a2 = Alignment("x.wav", "en", a.words, (Unaligned("uh", 4.0, 4.0, "speech"),), 9.0, text)
    plan2 = plan_clips(a2, SegmentOptions(min_s=1.0, max_s=5.0))
    assert "Four five six." not in [c.text for c in plan2.clips]
    assert any(r == DROP_UNALIGNED for _, _, r in plan2.dropped)
    plan3 = plan_clips(a, SegmentOptions(min_s=0.5, max_s=1.5))
    assert not plan3.clips and {r for _, _, r in plan3.dropped} == {DROP_NO_PAUSE}


def test_error_rate_and_tidy_text():
    assert error_rate("It costs $5.", "it costs five dollars", "en") == 0.0
    assert error_rate("广州市房地产", "广州市房地", "zh") == pytest.approx(1 / 6)
    assert error_rate("", "", "en") == 0.0
    assert tidy_text("第一行\n第二行 and\n  more") == "第一行第二行 and more"


def test_pause_rules():
    spans = [[0.0, 0.5], [0.5, 2.0], [2.0, 2.4]]  # the middle word took a pause (0.6-1.8)
    split_at_pauses(spans, [(0.6, 1.8)], [False, False, False])
    assert spans[1] == [1.8, 2.0] and spans[0][1] == 0.6  # it goes after; the word before keeps its tail
    spans = [[0.0, 1.5], [1.5, 1.9]]  # a word that ends a sentence keeps the part before the pause
    split_at_pauses(spans, [(0.6, 1.4)], [True, False])
    assert spans[0] == [0.0, 0.6] and spans[1][0] == pytest.approx(1.5)
    spans = [[0.0, 0.4], [0.4, 0.4], [0.4, 0.9]]
    widen_short(spans)
    assert spans[1][1] - spans[1][0] >= 0.049 and spans[1][0] == spans[0][1] and spans[1][1] == spans[2][0]


def test_pack_and_unpack():
    silent = np.zeros(300, bool)
    silent[100:200] = True  # 1.0-2.0 s is a pause
    x = np.arange(48000, dtype=np.float32)
    packed, kept = pack_pauses(x, 0.0, silent)
    assert packed.size == 48000 - (100 - 8) * 160
    assert unpack_time(0.5, kept, False) == pytest.approx(0.5)
    assert unpack_time(1.04, kept, True) == pytest.approx(1.04)
    assert unpack_time(1.2, kept, False) == pytest.approx(1.2 + 0.92)


def test_options_are_checked():
    with pytest.raises(ValueError):
        AlignOptions(max_window_s=40)
    with pytest.raises(ValueError):
        SegmentOptions(min_s=5, max_s=4)
    assert SegmentOptions().error_limit("zh") > SegmentOptions().error_limit("en")
    # qa5: past the recognition pass's bounds was "unexpected ValueError" after the model loaded;
    # a negative pad or pause was accepted (negative minutes in the summary)
    for bad in ({"beam_size": 100000}, {"batch_size": 100000}, {"beam_size": 0}):
        with pytest.raises(ValueError, match="at most"):
            AlignOptions(**bad)
    for bad in ({"pad_s": -5.0}, {"min_pause_s": -1.0}, {"min_pause_s": 0.0}):
        with pytest.raises(ValueError, match="seconds"):
            SegmentOptions(**bad)
    assert AlignOptions(beam_size=100, batch_size=512).beam_size == 100 and SegmentOptions(pad_s=0.0).pad_s == 0.0


def test_words_next_to_a_pause_take_its_edges():
    import numpy as np

    from tingshuo.align.refine import edges_to_pauses

    vad = np.zeros(300, np.float32)
    vad[:105] = vad[140:] = 0.9  # speech, a pause 1.05-1.4 s, speech
    # a weak ending DTW ended 0.35 s early, a short first word it started 0.3 s late: with speech
    # between (by the VAD) both move onto the pause's edges
    spans = [[0.0, 0.7], [1.7, 2.0], [2.0, 2.3]]
    placed = edges_to_pauses(spans, [(1.05, 1.4)], vad=vad)
    assert spans == [[0.0, 1.05], [1.4, 2.0], [2.0, 2.3]] and placed == ([False, True, False], [True, False, False])
    # the same stretch with no speech in it (a breath, a click) keeps the DTW's times
    vad[:] = 0.03
    spans = [[0.0, 0.7], [1.7, 2.0]]
    assert edges_to_pauses(spans, [(1.05, 1.4)], vad=vad) == ([False, False], [False, False])
    assert spans == [[0.0, 0.7], [1.7, 2.0]]
    # within 0.25 s an edge moves whatever the VAD says; farther than 0.5 s it stays
    spans = [[0.0, 0.9], [2.2, 2.5]]
    edges_to_pauses(spans, [(1.05, 1.4)], vad=np.full(300, 0.9, np.float32))
    assert spans == [[0.0, 1.05], [2.2, 2.5]]


def _heard(words, speech, duration_s=6.0):
    """A recognition pass: words [(text, start_s, end_s)] and VAD speech spans [(start_s, end_s)]."""
    from tingshuo.align.listen import Heard, HeardWord
    from tingshuo.audio.vad import FRAME_S

    vad = np.zeros(int(duration_s / FRAME_S) + 1, np.float32)
    for a, b in speech:
        vad[int(a / FRAME_S):int(b / FRAME_S)] = 0.9
    return Heard(tuple(HeardWord(a, b, " " + t, 0.9) for t, a, b in words), duration_s, vad,
                 np.full(int(duration_s / 0.01), -30.0, np.float32), ((0.0, duration_s),))


@pytest.mark.parametrize("case", ["misheard", "unheard"])
def test_the_start_of_a_sentence_is_placed_after_the_pause_not_in_the_last_sentences_tail(case):
    """The recogniser ends "left." at 1.1 s; the VAD hears its tail to 1.4 s, then a pause to
    2.8 s. The next line's first word, misheard ("Than" heard "Then"), was spread over the tail,
    then forced there, 1.5 s before its sentence (en-freshreport's "than in the same ..."): it
    belongs after the pause, where the recogniser heard it. A first word nobody heard ("That the"
    heard "Forms") keeps main's spreading: put first in a window after the pause, a short said
    word ("A rising tide") was tested as possibly not said and lost (4 on the hour chapter)."""
    from tingshuo.align.plan import make_plan

    if case == "misheard":
        text = "Rear left.\nThan in the same operations."
        heard = [("Rear", 0.0, 0.5), ("left.", 0.8, 1.1), ("Then", 2.8, 2.95), ("in", 2.95, 3.05),
                 ("the", 3.05, 3.15), ("same", 3.15, 3.4), ("operations.", 3.4, 3.9)]
        first = ["Than"]
    else:
        text = "One two three.\nThat the forms of printed letters."
        heard = [("One", 0.0, 0.3), ("two", 0.4, 0.7), ("three.", 0.8, 1.1), ("Forms", 2.75, 3.1),
                 ("of", 3.1, 3.2), ("printed", 3.2, 3.5), ("letters.", 3.5, 3.9)]
        first = ["That", "the"]
    plan = make_plan(units(text, "en"), _heard(heard, [(0.0, 1.4), (2.8, 4.0)]), "en", min_anchor=2,
                     unspoken_ratio=0.35)
    got = {it.text.strip(): it for it in plan.items if it.unit >= 0 and not it.anchored}
    assert set(first) <= set(got), plan.items
    for w in first:
        assert (got[w].t0 >= 2.7) == (case == "misheard"), (w, got[w])
    # a sentence's last word misheard ("now" heard "no"): its rough time stays before the pause
    plan = make_plan(units("Rear left now.\nIn the same operations.", "en"),
                     _heard([("Rear", 0.0, 0.5), ("left", 0.6, 0.9), ("no.", 0.9, 1.1), ("In", 2.8, 2.95),
                             ("the", 2.95, 3.05), ("same", 3.05, 3.3), ("operations.", 3.3, 3.9)],
                            [(0.0, 1.4), (2.8, 4.0)]), "en", min_anchor=2, unspoken_ratio=0.35)
    now = [it for it in plan.items if it.text.startswith("now")][0]
    assert now.t1 <= 1.5, now


def test_a_heard_first_word_that_took_the_pause_before_it_starts_after_the_pause():
    """Whisper timed "and" from the end of the sentence before (26.58-28.12 s, said from 28.0):
    the rough time let the forced decoder put it in that sentence's tail, 1.8 s early."""
    from tingshuo.align.plan import make_plan

    text = "Lubeck and other cities.\nAnd used an exceedingly beautiful type."
    heard = [("Lubeck", 0.0, 0.4), ("and", 0.4, 0.6), ("other", 0.6, 0.8), ("cities.", 0.8, 1.2),
             ("And", 1.5, 3.05), ("used", 3.05, 3.3), ("an", 3.3, 3.45), ("exceedingly", 3.45, 4.0),
             ("beautiful", 4.0, 4.4), ("type.", 4.4, 4.8)]
    plan = make_plan(units(text, "en"), _heard(heard, [(0.0, 1.5), (2.9, 5.0)]), "en", min_anchor=2,
                     unspoken_ratio=0.35)
    first = [it for it in plan.items if it.text.startswith("And")][0]
    assert first.anchored and first.t0 >= 2.85, first
    # inside a sentence a long heard word keeps its time (no sentence ended before it)
    plan = make_plan(units(text.replace(".\nAnd", " and"), "en"), _heard(heard, [(0.0, 1.5), (2.9, 5.0)]), "en",
                     min_anchor=2, unspoken_ratio=0.35)
    second = [it for it in plan.items if it.unit == 4][0]
    assert second.t0 < 2.0, second


@pytest.mark.parametrize("case", ["two-word line", "sentence start"])
def test_a_word_across_a_pause_keeps_the_side_the_recogniser_heard_it_on(case):
    """Real times (en-fresh2report, made relative). "Side | Left" with digital silence between:
    the DTW ran a word early across each pause — "Left" from inside "Side"'s sound over the pause
    into its own, the next line's "We" from inside "Left"'s over the next pause — and the side
    with more of the span won: the line ended 0.6 s early and the next began 0.9 s early, though
    the recogniser had heard both words after their pauses. Likewise "himself. | The forms":
    "The" was put in the tail of the sentence before (0.8 s early)."""
    from tingshuo.align.aligner import _assemble
    from tingshuo.align.plan import make_plan

    if case == "two-word line":
        text = "Side Left\nWe also need a small plastic snake."
        heard = [("Side,", 0.68, 0.84), ("left.", 1.39, 1.49), ("We", 2.36, 2.48), ("also", 2.54, 2.78),
                 ("need", 2.84, 3.06), ("a", 3.24, 3.42), ("small", 3.46, 3.64)]
        speech = [(0.52, 1.06), (1.30, 1.70), (2.43, 3.70)]
        forced = [(0.48, 0.90), (0.90, 1.48), (1.48, 2.47), (2.47, 2.77), (2.77, 3.07), (3.07, 3.43), (3.43, 3.65)]
        want = {"Left": (None, 1.70), "We": (2.43, None)}
    else:
        text = "He might have been made amiable himself.\nThe forms of printed letters."
        heard = [("He", 0.0, 0.2), ("might", 0.2, 0.4), ("have", 0.4, 0.6), ("been", 0.6, 0.75),
                 ("made", 0.75, 1.1), ("amiable", 1.15, 1.6), ("himself.", 1.65, 2.1), ("The", 2.88, 3.03),
                 ("forms", 3.08, 3.33), ("of", 3.39, 3.53), ("printed", 3.56, 3.79), ("letters.", 3.84, 4.2)]
        speech = [(0.0, 2.35), (2.96, 4.3)]
        forced = [(0.0, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, 0.75), (0.75, 1.1), (1.1, 1.64), (1.64, 2.12),
                  (2.12, 2.99), (2.99, 3.35), (3.35, 3.51), (3.51, 3.77), (3.77, 4.2)]
        want = {"himself": (None, 2.35), "The": (2.96, None)}
    h = _heard(heard, speech)
    silent = np.ones(h.energy_db.size, bool)
    for a, b in speech:
        silent[int(round(a / 0.01)):int(round(b / 0.01))] = False
    text_units = units(text, "en")
    plan = make_plan(text_units, h, "en", min_anchor=2, unspoken_ratio=0.35)
    idx = [i for i, it in enumerate(plan.items) if it.unit >= 0]
    assert len(idx) >= len(forced) and all(plan.items[i].anchored for i in idx[:len(forced)])
    times = {i: (a, b, 0.9, None, None) for i, (a, b) in zip(idx, forced)}
    result = _assemble(text, text_units, plan, times, h, silent, AlignOptions(), "t.wav", "en")
    got = {w.text: w for w in result.words}
    for word, (start, end) in want.items():
        if start is not None:
            assert got[word].start_s == pytest.approx(start, abs=0.05), got[word]
        if end is not None:
            assert got[word].end_s == pytest.approx(end, abs=0.05), got[word]


def test_a_stretch_of_speech_between_two_pauses_is_given_to_a_word():
    """Real DTW times (en-fresh2report, nothing heard there): "Rear Right | Front | Left | Six
    spoons", digital silence between the words. "Left", a line's last word, kept the side before
    its pause (within "Front"'s sound), "Six", a line's first word, the side after the next pause,
    and "Left"'s own sound (2.51-2.92) was nobody's: the line ended 0.7 s early."""
    spans = [[0.08, 0.74], [0.74, 1.96], [1.96, 2.74], [2.74, 4.16], [4.16, 4.60]]
    runs = [(0.85, 1.79), (2.23, 2.51), (2.92, 4.00)]
    split_at_pauses(spans, runs, [True, False, True, False, False], speech=lambda a, b: 0.9)
    assert spans[2] == pytest.approx([2.51, 2.92]) and spans[1] == pytest.approx([1.79, 2.23]), spans
    assert spans[3][0] == pytest.approx(4.0), spans
    # a stretch the VAD does not take for speech (a click, a breath) stays nobody's
    spans = [[0.08, 0.74], [0.74, 1.96], [1.96, 2.74], [2.74, 4.16], [4.16, 4.60]]
    split_at_pauses(spans, runs, [True, False, True, False, False], speech=lambda a, b: 0.9 if b - a > 0.5 else 0.1)
    assert spans[2][1] <= 2.23 + 1e-9, spans


def test_a_window_is_cut_at_the_pause_between_sentences_not_after_their_first_word():
    """Real heard times (en-freshreport, made relative): Whisper heard "IT" from 0.06 s before the
    end of the pause before it. The pause counted whole between "IT" and "WAS" too, the later
    boundary won the tie, and "IT" was forced into the last 0.03 s of its window: 0.65 s early."""
    from tingshuo.align.plan import make_plan, make_windows

    text = "Who would see me at this moment.\nIT WAS THE FIRST GREAT SORROW OF HIS LIFE."
    heard = [("Who", 0.0, 0.15), ("would", 0.18, 0.33), ("see", 0.36, 0.55), ("me", 0.79, 0.97),
             ("at", 1.03, 1.13), ("this", 1.16, 1.29), ("moment.", 1.33, 1.57), ("IT", 2.25, 2.39),
             ("WAS", 2.42, 2.53), ("THE", 2.56, 2.67), ("FIRST", 2.71, 2.93), ("GREAT", 2.98, 3.23),
             ("SORROW", 3.28, 3.61), ("OF", 3.65, 3.75), ("HIS", 3.78, 3.95), ("LIFE.", 3.98, 4.3)]
    h = _heard(heard, [(0.0, 1.72), (2.31, 4.4)])
    plan = make_plan(units(text, "en"), h, "en", min_anchor=2, unspoken_ratio=0.35)
    windows = make_windows(plan, h, 3.0, [(1.72, 2.31)])
    it = [i for i, x in enumerate(plan.items) if x.text.startswith("IT")][0]
    w = [w for w in windows if it in w.items][0]
    assert w.items[0] == it and 1.72 <= w.start_s <= 2.31, windows


def test_a_sentences_first_word_heard_inside_the_pause_before_it_goes_after_the_pause():
    """Real times (zh-tune, made relative): Whisper's coarse character times put "这" in the pause
    before its sentence (1.12-1.91 s, pause 0.94-2.42); the DTW gave it the sentence before's last
    0.09 s of sound and the pause. It was said after the pause."""
    spans = [[0.25, 0.51], [0.51, 0.63], [0.63, 0.85], [0.85, 1.91], [2.38, 2.68], [2.68, 3.0]]
    heard = [None, None, None, (1.12, 1.91), (1.91, 2.71), (2.71, 3.03)]
    split_at_pauses(spans, [(0.94, 2.42)], [False, False, True, False, False, False],
                    speech=lambda a, b: 0.9, heard=heard)
    assert spans[3][0] == pytest.approx(2.42) and spans[2][1] <= 0.94 + 1e-9, spans
    # a word heard in the pause that does not start a sentence keeps the DTW's side
    spans = [[0.25, 0.51], [0.51, 0.63], [0.63, 0.89], [0.83, 1.91], [2.38, 2.68], [2.68, 3.0]]
    split_at_pauses(spans, [(0.94, 2.42)], [False] * 6, speech=lambda a, b: 0.9, heard=heard)
    assert spans[3][1] <= 0.94 + 1e-9, spans
