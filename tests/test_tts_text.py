"""The text front end: sentence splitting, script runs, and reading numbers aloud in both languages."""

from __future__ import annotations

import pytest

from tingshuo.tts.text import dominant_language, is_speakable, script_runs, split_clauses, split_sentences

pytest.importorskip("num2words", reason="needs the models extra: pip install 'tingshuo[models]'")
pytest.importorskip("cn2an", reason="needs the models extra: pip install 'tingshuo[models]'")

from tingshuo.tts.normalize import normalize, normalize_en, normalize_zh  # noqa: E402

EN_TABLE = [
    ("Dr. Lee arrived.", "Doctor Lee arrived."),
    ("It costs $1,200.", "It costs one thousand two hundred dollars."),
    ("Only $3.50 each.", "Only three dollars and fifty cents each."),
    ("That is $1.", "That is one dollar."),
    ("We raised $2m.", "We raised two million dollars."),
    ("Meet at 3:30 pm.", "Meet at three thirty p m."),
    ("Meet at 7:05.", "Meet at seven oh five."),
    ("It starts at 9:00.", "It starts at nine o'clock."),
    ("Come at 10am.", "Come at ten a m."),
    ("Sales fell 50%.", "Sales fell fifty percent."),
    ("Up 12.5% today.", "Up twelve point five percent today."),
    ("No. 3 wins.", "number three wins."),
    ("Born in 1999.", "Born in nineteen ninety-nine."),
    ("On March 5, 2024 we met.", "On March fifth, twenty twenty-four we met."),
    ("Due 2024-03-05.", "Due March fifth, twenty twenty-four."),
    ("The 21st century.", "The twenty-first century."),
    ("Pi is 3.14.", "Pi is three point one four."),
    ("It was -4 outside.", "It was minus four outside."),
    ("Read pages 3-5.", "Read pages three to five."),
    ("Add 1/2 a cup.", "Add one half a cup."),
    ("She ran 5km.", "She ran five kilometres."),
    ("Call 5551234567.", "Call five five five one two three four five six seven."),
    ("Salt & pepper, e.g. herbs.", "Salt and pepper, for example herbs."),
    ("Mr. and Mrs. Smith vs. St. Louis", "Mister and Missus Smith versus Saint Louis"),
    ("There were 2,500 people.", "There were two thousand five hundred people."),
    # a comma after a number is punctuation, not part of it (a year stays a year)
    ("In 1984, we left.", "In nineteen eighty-four, we left."),
    ("It cost $5, then $1,200, then 7%, then 10,000.", "It cost five dollars, then one thousand two hundred "
                                                      "dollars, then seven percent, then ten thousand."),
    ("Say 1, 2, 3.", "Say one, two, three."),
]

ZH_TABLE = [
    ("2024年3月5日", "二零二四年三月五日"),
    ("¥3.50", "三点五元"),
    ("￥100", "一百元"),
    ("$1,200", "一千二百美元"),
    ("涨了50%", "涨了百分之五十"),
    ("增长12.5%", "增长百分之十二点五"),
    ("下午3:30开会", "下午三点三十分开会"),
    ("7:05出发", "七点零五分出发"),
    ("2:00见", "两点见"),
    ("电话13812345678", "电话一三八一二三四五六七八"),
    ("共有1,200人", "共有一千二百人"),
    ("温度-5℃", "温度负五摄氏度"),
    ("2024-03-05", "二零二四年三月五日"),
    ("跑了5km", "跑了五公里"),
    ("第3名", "第三名"),
    ("No. 3", "第三"),
    ("3.5万", "三点五万"),
    ("我有2个苹果", "我有两个苹果"),
    ("1/3的人", "三分之一的人"),
    ("2020年", "二零二零年"),
    ("房间0302", "房间零三零二"),
    ("3-5天", "三到五天"),
    ("共25本书", "共二十五本书"),
    ("他在1984,然后", "他在一千九百八十四,然后"),
    ("数字1,2,3", "数字一,二,三"),
]


@pytest.mark.parametrize("raw,spoken", EN_TABLE)
def test_english_normalisation(raw, spoken):
    assert normalize_en(raw) == spoken


@pytest.mark.parametrize("raw,spoken", ZH_TABLE)
def test_mandarin_normalisation(raw, spoken):
    assert normalize_zh(raw) == spoken


def test_no_digits_survive_normalisation():
    for raw, _ in EN_TABLE:
        assert not any(c.isdigit() for c in normalize_en(raw)), raw
    for raw, _ in ZH_TABLE:
        assert not any(c.isdigit() for c in normalize_zh(raw)), raw


def test_mixed_sentence_reads_numbers_in_the_sentence_language():
    assert normalize("我今天用了 iPhone 15 拍照，花了$999。") == "我今天用了 iPhone 十五 拍照，花了九百九十九美元。"
    assert normalize("I paid 30元 for it.") == "I paid 三十元 for it."


def test_sentences_split_on_both_punctuations_but_not_abbreviations_or_decimals():
    assert list(split_sentences("Dr. Smith paid $3.50. 你好！再见。")) == ["Dr. Smith paid $3.50.", "你好！", "再见。"]
    assert list(split_sentences("It is 3 p.m. now. J. K. Rowling wrote it. Really? Yes!")) == [
        "It is 3 p.m. now.", "J. K. Rowling wrote it.", "Really?", "Yes!"]
    assert list(split_sentences("第一句。第二句？第三句！")) == ["第一句。", "第二句？", "第三句！"]
    assert list(split_sentences("one\n\ntwo")) == ["one", "two"]
    # an abbreviation before the only other full stop (the demo's sentence was spoken as "Dr." + the rest)
    assert list(split_sentences("Dr. Lee will arrive at 3:30 pm.")) == ["Dr. Lee will arrive at 3:30 pm."]
    assert list(split_sentences("Mr. J. Smith came.")) == ["Mr. J. Smith came."]


def test_sentences_are_read_lazily_from_pieces():
    pieces = iter(["Hello the", "re. How are", " you? Fine"])
    assert list(split_sentences(pieces)) == ["Hello there.", "How are you?", "Fine"]


def test_overlong_sentences_are_cut():
    parts = list(split_sentences("word " * 500))
    assert len(parts) > 1 and all(len(p) <= 400 for p in parts)
    zh = list(split_sentences("字" * 1000))
    assert len(zh) > 1 and all(len(p) <= 120 for p in zh)


def test_script_runs_and_language():
    assert script_runs("我用Python写代码") == [("zh", "我用"), ("en", "Python"), ("zh", "写代码")]
    assert script_runs("Hello, 世界!") == [("en", "Hello,"), ("zh", "世界!")]
    assert dominant_language("这是 a test") == "zh" and dominant_language("this is 一 test") == "en"
    assert not is_speakable("... !!! ——") and is_speakable("好") and is_speakable("7")


def test_clauses_keep_their_marks():
    assert split_clauses("Hello, world; this is it.") == [("Hello", ","), ("world", ";"), ("this is it", ".")]
    assert split_clauses("你好，世界。") == [("你好", "，"), ("世界", "。")]


# ------------------------------------------------------------------ Mandarin prosody (zh-baker)
def test_third_tone_sandhi_inside_words_and_across_single_syllables():
    from tingshuo.tts.zh_prosody import sandhi_for_words, third_tone_sandhi

    assert third_tone_sandhi(["ni3", "hao3"], [2]) == ["ni2", "hao3"]
    assert third_tone_sandhi(["wo3", "hen3", "hao3"], [1, 1, 1]) == ["wo2", "hen2", "hao3"]
    assert third_tone_sandhi(["ma1", "ma5"], [2]) == ["ma1", "ma5"]  # no third tone, nothing changes
    # punctuation stops it: 好 keeps its tone before the comma
    assert sandhi_for_words(["hao3", "ni3", "hao3"], ["好", "，", "你好"]) == ["hao3", "ni2", "hao3"]
    # counts that disagree (a merged reading) leave the syllables as they are
    assert sandhi_for_words(["ni3"], ["你好"]) == ["ni3"]


def test_word_marks_go_between_chinese_words_only():
    from tingshuo.tts.zh_prosody import mark_words

    assert mark_words("我想给儿子汇款。", ["我", "想", "给", "儿子", "汇款", "。"]) == "我#1想#1给#1儿子#1汇款。"
    assert mark_words("用App付款", ["用", "App", "付款"]) == "用App付款"


def test_words_are_segmented_by_jieba():
    pytest.importorskip("jieba", reason="needs the models extra: pip install 'tingshuo[models]'")
    from tingshuo.tts.zh_prosody import words

    assert words("我想给在美国的儿子汇款") == ["我", "想", "给", "在", "美国", "的", "儿子", "汇款"]


def test_without_jieba_there_are_no_word_marks_and_sandhi_spans_the_run(monkeypatch):
    from tingshuo.tts import zh_prosody

    monkeypatch.setattr(zh_prosody, "_jieba", lambda: None)
    segmented = zh_prosody.words("我很好，你呢")
    assert segmented == ["我很好", "，", "你呢"]
    assert zh_prosody.mark_words("我很好，你呢", segmented) == "我很好，你呢"
    assert zh_prosody.sandhi_for_words(["wo3", "hen3", "hao3", "ni3", "ne5"], segmented) == \
        ["wo2", "hen2", "hao3", "ni3", "ne5"]
