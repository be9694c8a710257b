"""The voice pipeline: caller audio in, answers out as speech, turn by turn, with barge-in.

    pipeline = VoicePipeline(load_brain("kb", kb="bank"))
    pipeline.on_frame(send_to_caller)          # async callback: OutputAudio, transcripts, metrics...
    await pipeline.start()
    await pipeline.feed(pcm)                   # as audio arrives (16 kHz float32 or any rate)
    await pipeline.say("What are your opening hours?")   # or a typed turn
    await pipeline.close()

The pipeline knows nothing of the transport: files, a microphone or a WebSocket feed it and
listen to its frames. Each answer is generated, split into sentences and spoken while the rest
is still being made; caller speech during an answer stops it (barge-in) and the conversation
keeps what the caller actually heard.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass
from typing import Awaitable, Callable, Iterator

import numpy as np

from ..options import opt
from ..types import AudioChunk
from .brains.base import Brain
from .context import Conversation
from .frames import (BotStoppedSpeaking, BotTextChunk, BotTextEnd, EndFrame, Frame, InputAudio, Interruption,
                     StartFrame, TurnMetrics, UserText)
from .kb import DEFAULT_PROMPTS, text_language
from .processor import Chain
from .processors import BrainProcessor, Playback, SentenceSplitter, STTProcessor, TTSProcessor, TurnTaker

log = logging.getLogger("tingshuo.dialogue")
# A caller's turn is a question, not a document: understanding costs time in proportion to the text
# (about 1.4 s per 1000 characters on one core), so a longer typed turn is refused, not queued.
MAX_TYPED_CHARS = 2000


@dataclass(frozen=True)
class ChatOptions:
    """How a conversation runs. CLI flags and server fields derive from these."""

    language: str | None = opt(None, "caller's language (en, zh) or auto to detect each utterance", metavar="LANG")
    end_of_turn_s: float = opt(0.6, "silence (s) that ends the caller's turn")
    barge_in: bool = opt(True, "stop speaking when the caller starts talking")
    min_speech_s: float = opt(0.15, "speech this long starts a caller turn (and interrupts the assistant)")
    asr_beam_size: int = opt(5, "beam width for the caller's speech (5: as in transcribe, most accurate; "
                                "1 = greedy: fastest)")
    speak: bool = opt(True, "synthesise the answers (off: text only)")
    sample_rate: int = opt(24000, "output audio sample rate (Hz)")
    max_turns: int = opt(8, "turns of history the brain sees")
    partial_interval_s: float = opt(0.0, "seconds between partial transcripts (0: finals only)")
    speculative_asr: bool = opt(True, "recognise the caller's turn during the end-of-turn silence, so the answer "
                                      "starts sooner (costs a wasted decode when the caller goes on talking)")
    greet: bool = opt(False, "say the knowledge base's greeting first")
    first_clause: bool = opt(True, "speak a long first sentence's first clause on its own, so the answer starts "
                                   "sooner (off: whole sentences only)")

    def __post_init__(self) -> None:
        if not 0.1 <= self.end_of_turn_s <= 5.0:
            raise ValueError("end_of_turn_s must be between 0.1 and 5 seconds.")
        if not 1 <= self.asr_beam_size <= 100:
            raise ValueError(f"asr_beam_size must be from 1 to 100, not {self.asr_beam_size}.")
        if not 0 <= self.max_turns <= 1000:
            raise ValueError(f"max_turns must be from 0 to 1000, not {self.max_turns}.")
        if not 0.0 <= self.partial_interval_s <= 60.0:
            raise ValueError(f"partial_interval_s must be from 0 to 60 seconds, not {self.partial_interval_s}.")
        if not 0.05 <= self.min_speech_s <= 1.0:
            raise ValueError("min_speech_s must be between 0.05 and 1 second.")
        if self.sample_rate not in (8000, 16000, 22050, 24000, 44100, 48000):
            raise ValueError("sample_rate must be one of 8000, 16000, 22050, 24000, 44100, 48000.")


def default_synthesize(text: str, language: str | None, sample_rate: int) -> Iterator[AudioChunk]:
    """Speech for one sentence from tingshuo's TTS (the voice follows the text's language)."""
    from ..tts import SpeakOptions, synthesize_stream

    return synthesize_stream(text, options=SpeakOptions(sample_rate=sample_rate))


class VoicePipeline:
    def __init__(self, brain: Brain, options: ChatOptions | None = None, *, engine=None,
                 synthesize: Callable[[str, str | None, int], Iterator[AudioChunk]] | None = None,
                 realtime: bool = True) -> None:
        from ..asr.base import TranscribeOptions
        from ..asr.streaming import StreamingRecognizer
        from ..audio.vad import VADOptions

        self.options = options or ChatOptions()
        self.brain = brain
        self.conversation = Conversation(self.options.max_turns)
        kb = getattr(brain, "kb", None)
        hotwords = kb.vocabulary() if kb is not None else ()  # the domain's terms prime the recogniser
        self.recognizer = StreamingRecognizer(
            engine, TranscribeOptions(language=self.options.language, beam_size=self.options.asr_beam_size,
                                      hotwords=hotwords),
            vad_options=VADOptions(min_silence_s=self.options.end_of_turn_s, min_speech_s=self.options.min_speech_s,
                                   speech_pad_s=0.2, max_speech_s=28.0),
            partial_interval_s=self.options.partial_interval_s, speculate=self.options.speculative_asr)
        self.playback = Playback(self, realtime)
        self.input = Chain([STTProcessor(self.recognizer), TurnTaker(self)], sink=self._emit)
        self._synthesize = synthesize or default_synthesize
        self.response = Chain([BrainProcessor(self), SentenceSplitter(self.options.first_clause),
                               TTSProcessor(self, self._synthesize), self.playback], sink=self._emit)
        self._observers: list[Callable[[Frame], Awaitable[None]]] = []
        self._task: asyncio.Task | None = None
        self.turn = 0
        self._marks: dict[int, dict[str, float]] = {}
        self._answers: dict[int, str] = {}
        self._turn_done: dict[int, asyncio.Event] = {}
        self.metrics: list[TurnMetrics] = []

    # ------------------------------------------------------------------ wiring
    def on_frame(self, callback: Callable[[Frame], Awaitable[None]]) -> None:
        """Call ``callback`` (async) with every frame that leaves the pipeline."""
        self._observers.append(callback)

    async def _emit(self, frame: Frame) -> None:
        for cb in self._observers:
            await cb(frame)

    def mark(self, turn: int, key: str, t: float | None = None) -> None:
        self._marks.setdefault(turn, {}).setdefault(key, t if t is not None else time.perf_counter())

    def canned_text(self, key: str, language: str | None) -> str:
        prompt = getattr(self.brain, "prompt", None)
        return prompt(key, language) if prompt else DEFAULT_PROMPTS[key].get(language or "en", DEFAULT_PROMPTS[key]["en"])

    def record_answer(self, turn: int, text: str, info) -> None:
        self._answers[turn] = text
        self.conversation.add("assistant", text, info.language, meta={**info.to_dict(), "turn": turn})

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if self.options.speak:
            await asyncio.to_thread(self._warm_up)
        self.playback.start()
        await self._emit(StartFrame())
        if self.options.greet:
            lang = self.options.language or "en"
            await self.start_turn("", lang, canned="greeting")

    def _warm_up(self) -> None:
        """Load the voices before the first caller speaks, so the first answer is not slowed by it."""
        for text, language in (("Hello.", "en"), ("你好。", "zh")):
            for _ in self._synthesize(text, language, self.options.sample_rate):
                pass

    async def feed(self, samples: np.ndarray, sample_rate: int = 16000) -> None:
        """Caller audio, as it arrives (float32 mono)."""
        await self.input.process(InputAudio(np.asarray(samples, np.float32), sample_rate))

    async def say(self, text: str, language: str | None = None) -> int:
        """A typed caller turn; returns its turn number. Raises ``InputError`` past ``MAX_TYPED_CHARS``."""
        from ..errors import InputError

        text = re.sub("[\ud800-\udfff]", " ", text)  # lone surrogates (a JSON "\ud800" escape) cannot be encoded
        if not text.strip():  # (only surrogates: the brain answered the empty turn with its goodbye)
            raise InputError("A typed turn is empty (nothing but characters that are not text); type a question.")
        if len(text) > MAX_TYPED_CHARS:
            raise InputError(f"A typed turn is {len(text)} characters long; the assistant takes at most "
                             f"{MAX_TYPED_CHARS} per turn. Ask one question at a time.")
        if self.busy and self.options.barge_in:
            await self.interrupt(time.perf_counter())
        return await self.start_turn(text, language or text_language(text))

    async def end_of_input(self) -> None:
        """No more caller audio: finish an utterance in progress."""
        await self.input.process(EndFrame())

    async def wait_idle(self, timeout_s: float = 120.0) -> None:
        """Until the current answer has been made and played."""
        deadline = time.monotonic() + timeout_s
        while True:
            task = self._task
            if task is not None and not task.done():
                await asyncio.wait_for(asyncio.shield(task), max(0.1, deadline - time.monotonic()))
            event = self._turn_done.get(self.turn)
            if event is not None and not event.is_set():
                await asyncio.wait_for(event.wait(), max(0.1, deadline - time.monotonic()))
            await asyncio.wait_for(self.playback.idle.wait(), max(0.1, deadline - time.monotonic()))
            if (self._task is None or self._task.done()) and self.playback.idle.is_set():
                return

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        await self.playback.close()
        self.recognizer.close()
        await self._emit(EndFrame())

    # ------------------------------------------------------------------ turns
    @property
    def busy(self) -> bool:
        """An answer is being made or played."""
        return (self._task is not None and not self._task.done()) or self.playback.speaking_turn is not None \
            or not self.playback.idle.is_set()

    async def start_turn(self, text: str, language: str | None, *, t_speech_end: float | None = None,
                         t_transcript: float | None = None, canned: str | None = None) -> int:
        """Answer a caller turn (``canned`` answers with a fixed prompt: not_heard, greeting).

        ``t_speech_end`` (when the end of the caller's speech was detected) and ``t_transcript``
        are perf_counter stamps for spoken turns; typed turns have neither.
        """
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self.turn += 1
        turn = self.turn
        self._turn_done[turn] = asyncio.Event()
        if t_speech_end is not None:
            self.mark(turn, "speech_end", t_speech_end)
        self.mark(turn, "transcript", t_transcript or time.perf_counter())
        lang = language if language in ("zh", "en") else (text_language(text) if text else self._last_language())
        if text:
            self.conversation.add("user", text, lang, meta={"turn": turn})
        if canned:
            self._task = asyncio.create_task(self._canned(turn, canned, lang))
        else:
            self._task = asyncio.create_task(self.response.process(UserText(text, lang, turn, t_speech_end or 0.0,
                                                                            time.perf_counter())))
        self._task.add_done_callback(self._log_failure)
        return turn

    def _last_language(self) -> str | None:
        last = self.conversation.last("user")
        return last.language if last else self.options.language

    async def _canned(self, turn: int, key: str, language: str | None) -> None:
        from .brains.base import ReplyInfo

        text = self.canned_text(key, language)
        self.mark(turn, "first_text")
        splitter = self.response.processors[1]
        await splitter.process(BotTextChunk(text, turn, language))
        info = ReplyInfo(key.replace("_", "-"), language)
        self.record_answer(turn, text, info)
        await splitter.process(BotTextEnd(turn, text, info.to_dict()))

    @staticmethod
    def _log_failure(task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("answer failed: %s", task.exception())

    def turn_done(self, turn: int) -> None:
        """The answer for ``turn`` has been played (or was text only): report its metrics."""
        self._finish_metrics(turn)
        event = self._turn_done.get(turn)
        if event is not None:
            event.set()

    async def interrupt(self, t_detect: float) -> None:
        """Barge-in: stop the answer now; keep what the caller heard of it."""
        turn = self.playback.speaking_turn or self.turn
        if self._task is not None and not self._task.done():
            self._task.cancel()
        heard = await self.playback.stop()
        t_stop = time.perf_counter()
        answer = self._answers.get(turn)
        if answer is not None:
            self.conversation.replace_last_assistant(heard, interrupted=True)
        self.mark(turn, "barge_in_detect", t_detect)
        self.mark(turn, "barge_in_stop", t_stop)
        await self._emit(Interruption(t_detect))
        await self._emit(BotStoppedSpeaking(turn, heard, True, t_stop))
        self.turn_done(turn)

    def _finish_metrics(self, turn: int) -> None:
        m = self._marks.get(turn, {})
        if not m or m.get("reported"):
            return
        m["reported"] = 1.0

        def ms(a: str, b: str) -> float | None:
            return (m[b] - m[a]) * 1000 if a in m and b in m else None

        spoken = "speech_end" in m
        metrics = TurnMetrics(
            turn, end_of_turn_wait_ms=self.options.end_of_turn_s * 1000 if spoken else None,
            asr_ms=ms("speech_end", "transcript"),
            brain_first_token_ms=ms("transcript", "first_text"),
            tts_first_chunk_ms=ms("first_sentence", "first_audio_made"),
            voice_to_voice_ms=ms("speech_end", "first_audio_out"), barge_in_stop_ms=ms("barge_in_detect", "barge_in_stop"))
        self.metrics.append(metrics)
        for cb in self._observers:
            asyncio.ensure_future(cb(metrics))
