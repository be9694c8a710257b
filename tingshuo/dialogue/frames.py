"""The frames that flow through a voice pipeline. Small on purpose: about twenty types.

Times: ``t`` fields are ``time.perf_counter()`` stamps (for latency); ``*_s`` fields are seconds
of stream time. Audio is float32 mono.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, eq=False)
class Frame:
    """Base of every frame."""


# ----------------------------------------------------------------------------- control
@dataclass(frozen=True, eq=False)
class StartFrame(Frame):
    """The conversation begins."""


@dataclass(frozen=True, eq=False)
class EndFrame(Frame):
    """The conversation ends: processors flush and stop."""


@dataclass(frozen=True, eq=False)
class Interruption(Frame):
    """The user barged in: stop speaking and drop the answer being made."""

    t: float = 0.0  # when the user's speech was detected


@dataclass(frozen=True, eq=False)
class ErrorFrame(Frame):
    """Something failed; ``fatal`` ends the conversation, otherwise it carries on."""

    message: str
    fatal: bool = False


# ----------------------------------------------------------------------------- user side
@dataclass(frozen=True, eq=False)
class InputAudio(Frame):
    samples: np.ndarray
    sample_rate: int = 16000


@dataclass(frozen=True, eq=False)
class UserSpeechStarted(Frame):
    start_s: float
    t: float = 0.0


@dataclass(frozen=True, eq=False)
class UserSpeechStopped(Frame):
    end_s: float  # where the speech ended (before the end-of-turn silence)
    t: float = 0.0


@dataclass(frozen=True, eq=False)
class TranscriptionPartial(Frame):
    text: str


@dataclass(frozen=True, eq=False)
class TranscriptionFinal(Frame):
    """One recognised utterance; ``confident`` is False for speech the recogniser could not make out."""

    text: str
    language: str | None
    start_s: float
    end_s: float
    confident: bool = True
    t_speech_end: float = 0.0  # perf_counter stamp of the end of speech (VAD)
    t: float = 0.0  # when the transcript was ready


@dataclass(frozen=True, eq=False)
class UserText(Frame):
    """A user turn as text (typed, or accepted from the recogniser)."""

    text: str
    language: str | None = None
    turn: int = 0
    t_speech_end: float = 0.0
    t: float = 0.0


# ----------------------------------------------------------------------------- bot side
@dataclass(frozen=True, eq=False)
class BotTextChunk(Frame):
    """A piece of the answer as it is generated (tokens, or a whole answer at once)."""

    text: str
    turn: int = 0
    language: str | None = None


@dataclass(frozen=True, eq=False)
class BotTextEnd(Frame):
    """The answer for ``turn`` is complete: its whole ``text``; ``meta`` says where it came from."""

    turn: int = 0
    text: str = ""
    meta: dict = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class BotSentence(Frame):
    text: str
    turn: int = 0
    language: str | None = None
    last: bool = False


@dataclass(frozen=True, eq=False)
class OutputAudio(Frame):
    """Speech for the caller; ``text`` is the sentence it speaks (on its first chunk)."""

    samples: np.ndarray
    sample_rate: int
    text: str = ""
    turn: int = 0
    last: bool = False  # the last chunk of the turn's answer


@dataclass(frozen=True, eq=False)
class BotStartedSpeaking(Frame):
    turn: int = 0
    t: float = 0.0


@dataclass(frozen=True, eq=False)
class BotStoppedSpeaking(Frame):
    """Playback ended; ``spoken`` is what the caller actually heard (shorter when interrupted)."""

    turn: int = 0
    spoken: str = ""
    interrupted: bool = False
    t: float = 0.0


@dataclass(frozen=True, eq=False)
class Handoff(Frame):
    """The caller asked for a human agent (转人工)."""

    turn: int = 0
    reason: str = ""


@dataclass(frozen=True, eq=False)
class TurnMetrics(Frame):
    """Per-stage latency of one turn, in milliseconds (None where a stage did not run)."""

    turn: int
    end_of_turn_wait_ms: float | None = None  # silence the VAD waited for before ending the turn
    asr_ms: float | None = None  # end of that wait -> final transcript (~0 when decoded during the wait)
    brain_first_token_ms: float | None = None  # transcript -> first answer text
    tts_first_chunk_ms: float | None = None  # first answer sentence -> its first audio
    voice_to_voice_ms: float | None = None  # end of user speech -> first bot audio, minus the silence wait
    barge_in_stop_ms: float | None = None  # user speech detected -> playback stopped

    def to_dict(self) -> dict:
        return {k: (round(v, 1) if isinstance(v, float) else v) for k, v in self.__dict__.items()}
