"""The stages of a voice pipeline.

Input chain:    InputAudio -> STTProcessor -> TurnTaker
Response chain: UserText -> BrainProcessor -> SentenceSplitter -> TTSProcessor -> Playback

Blocking work (recognition, the brain, synthesis) runs in worker threads and streams back into
the event loop through a queue, so the loop keeps listening (barge-in) while an answer is made.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import TYPE_CHECKING, Callable, Iterator

import numpy as np

from ..audio.resample import resample
from .brains.base import ReplyInfo
from .frames import (BotSentence, BotStartedSpeaking, BotStoppedSpeaking, BotTextChunk, BotTextEnd, EndFrame,
                     ErrorFrame, Frame, Handoff, InputAudio, OutputAudio, TranscriptionFinal, TranscriptionPartial,
                     UserSpeechStarted, UserSpeechStopped, UserText)
from .kb import text_language
from .processor import Processor

if TYPE_CHECKING:
    from .pipeline import VoicePipeline

log = logging.getLogger("tingshuo.dialogue")
_DONE = object()
UNSURE_LOGPROB = -1.0  # a transcript below this mean log-probability is treated as not understood


async def stream_from_thread(produce: Callable[[], Iterator]):
    """Run a blocking generator in a worker thread; yield its items in the event loop as they come.

    An exception in the generator is re-raised here. If the consumer stops (cancelled), the
    thread finishes on its own and its remaining items are dropped.
    """
    loop = asyncio.get_running_loop()
    q: asyncio.Queue = asyncio.Queue()

    def work() -> None:
        try:
            for item in produce():
                loop.call_soon_threadsafe(q.put_nowait, item)
        except BaseException as exc:  # handed to the consumer
            loop.call_soon_threadsafe(q.put_nowait, exc)
        finally:
            loop.call_soon_threadsafe(q.put_nowait, _DONE)

    loop.run_in_executor(None, work)
    while True:
        item = await q.get()
        if item is _DONE:
            return
        if isinstance(item, BaseException):
            raise item
        yield item


# ----------------------------------------------------------------------------- input side
class STTProcessor(Processor):
    """Caller audio -> speech start, partial and final transcripts (VAD endpointing)."""

    def __init__(self, recognizer) -> None:
        super().__init__()
        self.rec = recognizer

    async def handle(self, frame: Frame) -> bool:
        if isinstance(frame, InputAudio):
            samples = frame.samples if frame.sample_rate == 16000 else resample(frame.samples, frame.sample_rate, 16000)
            events = await asyncio.to_thread(self.rec.accept, samples)
        elif isinstance(frame, EndFrame):
            events = await asyncio.to_thread(self.rec.finish)
        else:
            return False
        for ev in events:
            await self._emit(ev)
        return isinstance(frame, InputAudio)

    async def _emit(self, ev) -> None:
        now = time.perf_counter()
        if ev.kind == "speech_start":
            await self.push(UserSpeechStarted(ev.start_s, now))
        elif ev.kind == "partial":
            await self.push(TranscriptionPartial(ev.text))
        elif ev.kind == "final":
            logprobs = [s.avg_logprob for s in ev.segments]
            confident = bool(ev.text.strip()) and (not logprobs or float(np.mean(logprobs)) > UNSURE_LOGPROB)
            end_s = ev.speech_end_s if ev.speech_end_s is not None else ev.end_s
            await self.push(UserSpeechStopped(end_s, ev.t_endpoint))
            await self.push(TranscriptionFinal(ev.text, ev.language, ev.start_s, end_s, confident, ev.t_endpoint, now))


class TurnTaker(Processor):
    """Decides turns: barge-in on caller speech, a new turn on each final transcript."""

    def __init__(self, pipeline: "VoicePipeline") -> None:
        super().__init__()
        self.pipeline = pipeline

    async def handle(self, frame: Frame) -> bool:
        if isinstance(frame, UserSpeechStarted) and self.pipeline.options.barge_in and self.pipeline.busy:
            await self.pipeline.interrupt(frame.t)
        elif isinstance(frame, TranscriptionFinal):
            await self.push(frame)
            if frame.confident:
                await self.pipeline.start_turn(frame.text, frame.language, t_speech_end=frame.t_speech_end,
                                               t_transcript=frame.t)
            else:
                await self.pipeline.start_turn(frame.text, frame.language, t_speech_end=frame.t_speech_end,
                                               t_transcript=frame.t, canned="not_heard")
            return True
        return False


# ----------------------------------------------------------------------------- response side
class BrainProcessor(Processor):
    """UserText -> the brain's answer, streamed as BotTextChunk frames, then BotTextEnd."""

    def __init__(self, pipeline: "VoicePipeline") -> None:
        super().__init__()
        self.pipeline = pipeline

    async def handle(self, frame: Frame) -> bool:
        if not isinstance(frame, UserText):
            return False
        p = self.pipeline
        conversation, brain = p.conversation, p.brain
        info: ReplyInfo | None = None
        parts: list[str] = []
        try:
            async for item in stream_from_thread(lambda: brain.respond(conversation, frame.text, frame.language)):
                if isinstance(item, ReplyInfo):
                    info = item
                    continue
                if not parts:
                    p.mark(frame.turn, "first_text")
                parts.append(item)
                await self.push(BotTextChunk(item, frame.turn, frame.language))
        except Exception as exc:  # a broken brain must not end the call
            log.warning("brain failed on turn %d: %s", frame.turn, exc)
            await self.push(ErrorFrame(f"the answer could not be made ({exc})"))
            if not parts:
                text = p.canned_text("not_heard", frame.language)
                p.mark(frame.turn, "first_text")
                parts.append(text)
                await self.push(BotTextChunk(text, frame.turn, frame.language))
                info = ReplyInfo("error", frame.language, extra={"error": str(exc)})
        info = info or ReplyInfo("unknown", frame.language)
        p.record_answer(frame.turn, "".join(parts), info)
        if info.handoff:
            await self.push(Handoff(frame.turn, reason=frame.text))
        await self.push(BotTextEnd(frame.turn, "".join(parts), info.to_dict()))
        return True


# Sentence ends: CJK marks anywhere; Latin marks when followed by a space or the end, not after
# a single capital (initials) or a common abbreviation, and not inside a number (3.5).
_ABBREV = ("mr", "mrs", "ms", "dr", "st", "no", "vs", "etc", "e.g", "i.e", "prof", "sr", "jr")
_CJK_END = re.compile(r"[。！？；!?]")
_LATIN_END = re.compile(r"[.!?;](?=\s|$)")


def sentence_end(buf: str) -> int | None:
    """Index just past the first complete sentence in ``buf``, or None.

    >>> sentence_end("Call Dr. Wang at 3.5 pm. Then")
    24
    """
    cjk = _CJK_END.search(buf)
    best = cjk.end() if cjk else None
    for m in _LATIN_END.finditer(buf):
        if best is not None and m.end() >= best:
            break
        words = buf[: m.start()].split()
        w = words[-1].lower().strip("\"'(") if words else ""
        if m.group() == "." and (w in _ABBREV or (len(w) == 1 and w.isalpha())):
            continue
        return m.end()
    return best


_CJK_CLAUSE = re.compile(r"[，：]")
_LATIN_CLAUSE = re.compile(r"[,:](?=\s)")


def first_clause_end(buf: str, min_chars: tuple[int, int] = (6, 20)) -> int | None:
    """Index just past the first clause of ``buf``'s first sentence, when both that clause and the
    rest of the sentence are long enough to be worth speaking apart (``min_chars``: CJK, Latin).

    >>> first_clause_end("You can check it in the app on the home page, or at any ATM near you.")
    45
    >>> first_clause_end("Yes, of course.") is None
    True
    """
    end = sentence_end(buf)
    head = buf[:end] if end is not None else buf
    for m in sorted([*_CJK_CLAUSE.finditer(head), *_LATIN_CLAUSE.finditer(head)], key=lambda m: m.end()):
        clause, rest = head[:m.end()].strip(), head[m.end():].strip()
        need = min_chars[0] if _is_cjk(clause) else min_chars[1]
        if len(clause) >= need and (end is None or len(rest) >= need):
            return m.end()
    return None


class SentenceSplitter(Processor):
    """BotTextChunk stream -> BotSentence frames, so speech can start after the first sentence.

    With ``first_clause``, a long first sentence is cut after its first clause ("You can check your
    balance in the app on the home page," / "at any ATM, or ..."): a voice makes a sentence whole
    before any of it plays, so the caller hears the answer start sooner; later sentences are made
    while earlier ones play and stay whole.
    """

    def __init__(self, first_clause: bool = True) -> None:
        super().__init__()
        self.first_clause = first_clause
        self._buf = ""
        self._turn = 0
        self._first = True  # nothing of this turn's answer has been pushed yet
        self._lang: str | None = None

    async def handle(self, frame: Frame) -> bool:
        if isinstance(frame, BotTextChunk):
            if frame.turn != self._turn:
                self._buf, self._turn, self._first = "", frame.turn, True
            self._buf += frame.text
            self._lang = frame.language
            if self._first and self.first_clause and (cut := first_clause_end(self._buf)) is not None:
                clause, self._buf = self._buf[:cut].strip(), self._buf[cut:]
                self._first = False
                await self.push(BotSentence(clause, frame.turn, text_language(clause)))
            while (end := sentence_end(self._buf)) is not None and end < len(self._buf.rstrip()):
                sentence, self._buf = self._buf[:end].strip(), self._buf[end:]
                if sentence:
                    self._first = False
                    await self.push(BotSentence(sentence, frame.turn, text_language(sentence)))
            return False  # the raw text goes on too, for transports that show it as it comes
        if isinstance(frame, BotTextEnd):
            rest, self._buf = self._buf.strip(), ""
            if rest:
                # The remainder may still hold several sentences (a whole answer at once).
                while (end := sentence_end(rest)) is not None and end < len(rest):
                    s, rest = rest[:end].strip(), rest[end:].strip()
                    if s:
                        await self.push(BotSentence(s, frame.turn, text_language(s)))
                await self.push(BotSentence(rest, frame.turn, text_language(rest), last=True))
            else:
                await self.push(BotSentence("", frame.turn, self._lang, last=True))
            return False  # BotTextEnd goes on
        return False


class TTSProcessor(Processor):
    """BotSentence -> OutputAudio chunks at the pipeline's output rate; a failing voice is skipped, not fatal."""

    def __init__(self, pipeline: "VoicePipeline", synthesize) -> None:
        super().__init__()
        self.pipeline = pipeline
        self.synthesize = synthesize  # (text, language, sample_rate) -> Iterator[AudioChunk]

    async def handle(self, frame: Frame) -> bool:
        if not isinstance(frame, BotSentence):
            return False
        p = self.pipeline
        rate = p.options.sample_rate
        await self.push(frame)  # the text goes on too: a transport may show it
        if frame.text and p.options.speak:
            p.mark(frame.turn, "first_sentence")
            first = True
            try:
                async for chunk in stream_from_thread(lambda: self.synthesize(frame.text, frame.language, rate)):
                    samples = chunk.samples if chunk.sample_rate == rate else resample(chunk.samples, chunk.sample_rate, rate)
                    if first:
                        p.mark(frame.turn, "first_audio_made")
                    await self.push(OutputAudio(samples, rate, frame.text if first else "", frame.turn))
                    first = False
            except Exception as exc:  # the caller still gets the rest of the answer
                log.warning("speech synthesis failed for %r: %s", frame.text[:40], exc)
                await self.push(ErrorFrame(f"speech synthesis failed for one sentence ({exc})"))
        if frame.last:
            await self.push(OutputAudio(np.zeros(0, np.float32), rate, "", frame.turn, last=True))
        return True


class Playback(Processor):
    """Plays OutputAudio to the transport in small pieces, paced in real time when ``realtime``.

    Knows what the caller actually heard, so a barge-in can record the cut-off answer, and
    stops within one piece (``piece_s``) of being told to.
    """

    def __init__(self, pipeline: "VoicePipeline", realtime: bool, piece_s: float = 0.04, lead_s: float = 0.1) -> None:
        super().__init__()
        self.pipeline = pipeline
        self.realtime = realtime
        self.piece_s = piece_s
        self.lead_s = lead_s  # how far ahead of real time audio may be sent (client buffer)
        self.queue: asyncio.Queue = asyncio.Queue()
        self.speaking_turn: int | None = None
        self._sentences: list[list] = []  # [text, total_s, played_s] of the turn being spoken
        self._clock: float | None = None  # perf_counter when sent audio will have finished playing
        self._task: asyncio.Task | None = None
        self.idle = asyncio.Event()
        self.idle.set()

    async def handle(self, frame: Frame) -> bool:
        if isinstance(frame, OutputAudio):
            self.idle.clear()
            await self.queue.put(frame)
            return True
        return False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _run(self) -> None:
        while True:
            if self.queue.empty():
                self.idle.set()
            frame: OutputAudio = await self.queue.get()
            if self.speaking_turn != frame.turn and frame.samples.size:
                self.speaking_turn = frame.turn
                self._sentences = []
                self.pipeline.mark(frame.turn, "first_audio_out")
                await self.push(BotStartedSpeaking(frame.turn, time.perf_counter()))
            if frame.text or not self._sentences:
                self._sentences.append([frame.text, 0.0, 0.0])
            total = frame.samples.size / frame.sample_rate
            self._sentences[-1][1] += total
            step = max(1, int(self.piece_s * frame.sample_rate))
            for i in range(0, frame.samples.size, step):
                piece = frame.samples[i:i + step]
                await self._pace(piece.size / frame.sample_rate)
                await self.push(OutputAudio(piece, frame.sample_rate, frame.text if i == 0 else "", frame.turn))
                self._sentences[-1][2] += piece.size / frame.sample_rate
            if frame.last and self.speaking_turn == frame.turn:
                await self._drain_clock()
                spoken = self.heard()
                self.speaking_turn = None
                await self.push(BotStoppedSpeaking(frame.turn, spoken, False, time.perf_counter()))
                self.pipeline.turn_done(frame.turn)
            elif frame.last:
                self.pipeline.turn_done(frame.turn)

    async def _pace(self, duration_s: float) -> None:
        if not self.realtime:
            return
        now = time.perf_counter()
        if self._clock is None or self._clock < now:
            self._clock = now
        ahead = self._clock - now
        if ahead > self.lead_s:
            await asyncio.sleep(ahead - self.lead_s)
        self._clock += duration_s

    async def _drain_clock(self) -> None:
        """Wait until the audio sent so far has been played (real time only)."""
        if self.realtime and self._clock is not None:
            wait = self._clock - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)

    def heard(self) -> str:
        """The text of the current answer sent for playing, the last sentence cut where it stopped.

        In real time, up to ``lead_s`` of that audio may still sit in the transport's buffer.
        """
        parts = []
        for text, total, sent in self._sentences:
            if not text:
                continue
            if sent >= total - 1e-3:
                parts.append(text)
            else:
                parts.append(_prefix(text, sent / max(total, 1e-6)))
                break
        joiner = "" if any(_is_cjk(t) for t, _, _ in self._sentences) else " "
        return joiner.join(p for p in parts if p)

    async def stop(self) -> str:
        """Stop at once: drop queued audio; return what the caller heard of the current answer."""
        while not self.queue.empty():
            self.queue.get_nowait()
        heard = self.heard()
        if self._task is not None and not self._task.done():
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._clock = None
        self.speaking_turn = None
        self._sentences = []
        self.idle.set()
        self.start()
        return heard


def _is_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _prefix(text: str, fraction: float) -> str:
    """The first ``fraction`` of a sentence, cut at a word (Latin) or character (CJK)."""
    if fraction <= 0:
        return ""
    if _is_cjk(text):
        return text[: int(len(text) * fraction)]
    words = text.split()
    return " ".join(words[: int(len(words) * fraction)])
