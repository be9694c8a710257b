"""Conversation memory: the turns so far, kept within a turn and token budget.

    >>> c = Conversation(max_turns=4)
    >>> c.add("user", "我的卡丢了", "zh"); c.add("assistant", "请立即冻结", "zh", meta={"entry": "card_lost"})
    >>> c.last_meta("entry")
    'card_lost'
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Message:
    role: str  # "user" | "assistant"
    text: str
    language: str | None = None
    interrupted: bool = False  # the assistant was cut off: text is what the caller actually heard
    meta: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = {"role": self.role, "text": self.text, "language": self.language}
        if self.interrupted:
            d["interrupted"] = True
        if self.meta:
            d["meta"] = self.meta
        return d


def approx_tokens(text: str) -> int:
    """A language-neutral token estimate: CJK characters count one each, other words about 1.3."""
    cjk = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
    words = len([w for w in "".join(" " if "\u4e00" <= ch <= "\u9fff" else ch for ch in text).split() if w])
    return cjk + int(words * 1.3) + 1


class Conversation:
    """The history a brain sees: the last ``max_turns`` exchanges within ``max_tokens``."""

    def __init__(self, max_turns: int = 8, max_tokens: int = 1500) -> None:
        self.max_turns = max_turns
        self.max_tokens = max_tokens
        self.messages: list[Message] = []

    def add(self, role: str, text: str, language: str | None = None, *, interrupted: bool = False,
            meta: dict | None = None) -> Message:
        msg = Message(role, text, language, interrupted, dict(meta or {}))
        self.messages.append(msg)
        return msg

    def replace_last_assistant(self, text: str, interrupted: bool) -> None:
        """Record what was actually heard of the last answer (after a barge-in)."""
        for i in range(len(self.messages) - 1, -1, -1):
            m = self.messages[i]
            if m.role == "assistant":
                self.messages[i] = Message(m.role, text, m.language, interrupted, m.meta)
                return

    def window(self) -> list[Message]:
        """Most recent messages that fit the budget, oldest first."""
        out, tokens, users = [], 0, 0
        for m in reversed(self.messages):
            tokens += approx_tokens(m.text)
            users += m.role == "user"
            if out and (tokens > self.max_tokens or users > self.max_turns):
                break
            out.append(m)
        return list(reversed(out))

    def last(self, role: str) -> Message | None:
        return next((m for m in reversed(self.messages) if m.role == role), None)

    def last_meta(self, key: str):
        m = self.last("assistant")
        return m.meta.get(key) if m else None

    def to_list(self) -> list[dict]:
        return [m.to_dict() for m in self.messages]
