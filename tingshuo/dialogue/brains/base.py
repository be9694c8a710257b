"""The brain protocol: one method that streams an answer.

``respond(conversation, text, language)`` runs in a worker thread and yields text pieces as they
are ready (whole sentences, or tokens from an LLM), then one ``ReplyInfo`` saying where the
answer came from. ``conversation`` already holds the new user turn as its last message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Protocol

from ..context import Conversation


@dataclass(frozen=True)
class ReplyInfo:
    source: str  # "kb", "kb-follow-up", "kb-slot" (asks for a slot), "clarify", "not-heard", "llm", "llm-fallback"
    language: str | None = None
    entry: str | None = None  # knowledge-base entry answered
    confidence: float | None = None
    handoff: bool = False  # the caller asked for a human agent
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = {"source": self.source, "language": self.language, "entry": self.entry, "handoff": self.handoff}
        if self.confidence is not None:
            d["confidence"] = round(self.confidence, 3)
        d.update(self.extra)
        return d


class Brain(Protocol):
    name: str

    def respond(self, conversation: Conversation, text: str, language: str | None) -> Iterator[str | ReplyInfo]:
        ...


def load_brain(name: str = "kb", **config) -> Brain:
    """Build a registered brain: 'kb' (default), 'openai' (any OpenAI-compatible endpoint), 'llama'."""
    from ...registry import create

    return create("brain", name, **config)
