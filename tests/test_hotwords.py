"""Hot words: domain terms that prime the recogniser, each language getting those in its own script."""

from __future__ import annotations

from tingshuo.asr.base import TranscribeOptions
from tingshuo.asr.whisper import hotwords_for


def test_hotwords_go_to_the_language_of_their_script():
    words = ("信用卡", "PIN", "a lost card", " 房贷 ", "")
    assert hotwords_for("zh", words) == ["信用卡", "房贷"]
    assert hotwords_for("en", words) == ["PIN", "a lost card"]
    assert hotwords_for("ja", ("カード", "card")) == ["カード"]


def test_hotwords_parse_from_a_comma_list():
    from tingshuo.options import from_mapping

    assert from_mapping(TranscribeOptions, {"hotwords": "信用卡, 95588,Zhang Wei"}).hotwords == ("信用卡", "95588", "Zhang Wei")


def test_the_prompt_carries_the_hotwords_after_the_primer(transcriber):
    engine = transcriber.engine
    tok = engine.tokenizer("zh", "transcribe")
    zh = tok.decode([t for t in engine._prompt("zh", TranscribeOptions(hotwords=("信用卡", "PIN"))) if t < tok.eot])
    assert "以下是普通话的句子" in zh and "信用卡" in zh and "PIN" not in zh
    en = tok.decode([t for t in engine._prompt("en", TranscribeOptions(hotwords=("信用卡", "PIN"))) if t < tok.eot])
    assert "PIN" in en and "信用卡" not in en
    assert engine._prompt("en", TranscribeOptions()) == list(engine.tokenizer("en", "transcribe").sot_sequence)


def test_the_knowledge_base_lends_its_titles_as_hotwords():
    from tingshuo.dialogue.kb import load_kb

    vocab = load_kb("bank").vocabulary()
    assert "申请信用卡" in vocab and "mortgages" in vocab and len(vocab) == len(set(vocab)) <= 40
