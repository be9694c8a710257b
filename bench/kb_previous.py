"""The knowledge-base brain as released before issue 15 (commit 6ed5760), kept as the peer for bench/kb.py.

A verbatim copy of tingshuo/dialogue/brains/kb.py at that commit, with package-relative imports
made absolute and the registry decorator removed, so that the previous release runs in the same
script, on the same embedder, as the current brain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np


from tingshuo.dialogue.context import Conversation
from tingshuo.dialogue.kb import Entry, KnowledgeBase, fill, load_kb, simplified, text_language
from tingshuo.dialogue.brains.base import ReplyInfo

ANSWER_WEIGHT = 0.3  # how much the answer text counts next to the best-matching question
THRESHOLD = 0.45  # below this (centred cosine + answer term) the brain asks to clarify
FOLLOW_UP_THRESHOLD = 0.40  # a follow-up of the last topic is taken from this score ...
FOLLOW_UP_MARGIN = 0.10  # ... unless a fresh topic beats it by more than this
SLOT_BONUS = 0.15  # added to an entry's score when the caller names one of its slot values
MIN_FOR_MEAN = 8  # questions a language needs in a knowledge base to estimate its own mean vector


@dataclass(frozen=True)
class Hit:
    entry: Entry
    score: float
    follow_up: int | None = None  # index into entry.follow_ups when the hit is a follow-up


class KBIndex:
    """Embedding index over a knowledge base's questions, answers and follow-ups."""

    def __init__(self, kb: KnowledgeBase, embedder) -> None:
        self.kb = kb
        self.embedder = embedder
        q_text, q_lang, self._q_entry = [], [], []
        f_text, f_lang, self._f_key = [], [], []
        for k, e in enumerate(kb.entries):
            for lang, qs in e.questions.items():
                for q in qs:
                    q_text.append(simplified(q)), q_lang.append(lang), self._q_entry.append(k)
            for j, fu in enumerate(e.follow_ups):
                for lang, qs in fu.questions.items():
                    for q in qs:
                        f_text.append(simplified(q)), f_lang.append(lang), self._f_key.append((k, j))
        raw = embedder.queries(q_text + f_text)
        langs = np.array(q_lang + f_lang)
        self._mean = {lg: raw[langs == lg].mean(axis=0) for lg in set(langs) if (langs == lg).sum() >= MIN_FOR_MEAN}
        for lg in ("en", "zh"):  # a language the knowledge base lacks: use the bundled bilingual one's
            if lg not in self._mean:
                self._mean[lg] = _reference_means(embedder)[lg]
        self._global_mean = raw.mean(axis=0)
        centred = self._centre(raw, langs)
        self._q = centred[: len(q_text)]
        self._f = centred[len(q_text):]
        self._q_entry = np.array(self._q_entry)
        # answer vectors per language an entry is written in
        self._a: dict[str, np.ndarray] = {}
        for lg in sorted({lg for e in kb.entries for lg in e.answer}):
            texts = [simplified(_filled(e.answer_in(lg)[0], e, {}, lg)) for e in kb.entries]
            a = embedder.passages(texts)
            a = a - a.mean(axis=0)
            self._a[lg] = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-9)

    def _centre(self, vectors: np.ndarray, langs) -> np.ndarray:
        out = np.array([v - self._mean.get(lg, self._global_mean) for v, lg in zip(vectors, langs)])
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)

    def _query(self, text: str, lang: str) -> np.ndarray:
        return self._centre(self.embedder.queries([text]), [lang])[0]

    def search(self, text: str, lang: str | None = None, k: int = 3) -> list[Hit]:
        """Entries ranked by score (best question match plus ``ANSWER_WEIGHT`` × answer match)."""
        text = simplified(text)
        lang = lang or text_language(text)
        q = self._query(text, lang)
        answers = self._a.get(lang) if lang in self._a else next(iter(self._a.values()))
        scores = self._scores(q, answers)
        generic: dict[str, list[int]] = {}  # the question with named slot values made general -> entries
        for i, e in enumerate(self.kb.entries):
            if any(slot.find(text) is not None for slot in e.slots):
                scores[i] += SLOT_BONUS
                plain = text
                for slot in e.slots:
                    plain = slot.generic(plain, lang)
                if plain != text:
                    generic.setdefault(plain, []).append(i)
        for plain, idx in generic.items():
            again = self._scores(self._query(plain, lang), answers) + SLOT_BONUS
            scores[idx] = np.maximum(scores[idx], again[idx])
        order = np.argsort(-scores)[:k]
        return [Hit(self.kb.entries[i], float(scores[i])) for i in order]

    def _scores(self, q: np.ndarray, answers: np.ndarray) -> np.ndarray:
        best = np.full(len(self.kb.entries), -1.0)
        np.maximum.at(best, self._q_entry, self._q @ q)
        return best + ANSWER_WEIGHT * (answers @ q)

    def follow_up(self, text: str, lang: str | None, entry_id: str) -> Hit | None:
        """The best follow-up of ``entry_id`` for this question, if it has any."""
        text = simplified(text)
        lang = lang or text_language(text)
        idx = [i for i, (k, _) in enumerate(self._f_key) if self.kb.entries[k].id == entry_id]
        if not idx:
            return None
        q = self._query(text, lang)
        sims = self._f[idx] @ q
        i = idx[int(np.argmax(sims))]
        k, j = self._f_key[i]
        return Hit(self.kb.entries[k], float(sims.max()) + ANSWER_WEIGHT * 0.5, j)


def _reference_means(embedder) -> dict[str, np.ndarray]:
    """Mean query vector per language over the bundled bank questions (cached per embedder)."""
    cached = getattr(embedder, "_tingshuo_reference_means", None)
    if cached is None:
        from tingshuo.dialogue.kb import BUILTIN

        kb = load_kb(BUILTIN["bank"])
        cached = {}
        for lg in ("en", "zh"):
            qs = [q for e in kb.entries for q in e.questions.get(lg, ())]
            cached[lg] = embedder.queries(qs).mean(axis=0)
        embedder._tingshuo_reference_means = cached
    return cached



class KBBrain:
    """Knowledge-base responder. ``kb`` is a path, a built-in name ('bank') or a KnowledgeBase."""

    name = "kb"

    def __init__(self, kb: str | KnowledgeBase = "bank", *, threshold: float = THRESHOLD, embedder=None) -> None:
        from tingshuo.search.embed import load_embedder

        self.kb = kb if isinstance(kb, KnowledgeBase) else load_kb(kb)
        self.threshold = threshold
        self.index = KBIndex(self.kb, embedder or load_embedder())

    def retrieve(self, text: str, language: str | None = None, k: int = 3) -> list[Hit]:
        return self.index.search(text, language, k)

    def prompt(self, key: str, language: str | None) -> str:
        return self.kb.prompt(key, language)

    def decide(self, conversation: Conversation, text: str, language: str | None) -> tuple[str, ReplyInfo]:
        """The answer text and where it came from, without streaming."""
        text = simplified(text)
        lang = language if language in ("zh", "en") else text_language(text)
        hits = self.index.search(text, lang)
        top = hits[0]
        prev = conversation.last_meta("entry")
        awaiting = conversation.last_meta("awaiting")
        if prev and awaiting:  # the last reply asked for a slot: a turn that names a value answers it
            entry = self.kb.entry(prev)
            slot = next((s for s in entry.slots if s.name == awaiting), None)
            if slot is not None and slot.find(text) is not None:
                return self._answer(conversation, entry, text, lang, top.score)
        if prev:
            fu = self.index.follow_up(text, lang, prev)
            if fu and fu.score >= FOLLOW_UP_THRESHOLD and fu.score >= top.score - FOLLOW_UP_MARGIN:
                answer, alang = _pick(fu.entry.follow_ups[fu.follow_up].answer, lang)
                named = _named_slots(conversation, fu.entry, text)
                return _filled(answer, fu.entry, named, alang), ReplyInfo(
                    "kb-follow-up", alang, fu.entry.id, fu.score,
                    extra={"follow_up": fu.follow_up} | _slot_extra(fu.entry, named, alang))
            if top.score < self.threshold:
                # A short follow-up with no follow-up entry: read it together with the last question.
                prev_user = _previous_user_text(conversation)
                if prev_user:
                    ctx_hits = self.index.search(prev_user + " " + text, lang)
                    if ctx_hits[0].score >= self.threshold:
                        hits, top = ctx_hits, ctx_hits[0]
        if top.score < self.threshold:
            a, b = hits[0].entry.title_in(lang), hits[1].entry.title_in(lang) if len(hits) > 1 else ""
            reply = self.kb.prompt("clarify", lang).format(a=a, b=b)
            return reply, ReplyInfo("clarify", lang, None, top.score,
                                    extra={"candidates": [h.entry.id for h in hits[:2]]})
        return self._answer(conversation, top.entry, text, lang, top.score)

    def _answer(self, conversation: Conversation, entry: Entry, text: str, lang: str,
                score: float) -> tuple[str, ReplyInfo]:
        """The entry's answer with its slots filled, or the question for a slot still to be named."""
        named = _named_slots(conversation, entry, text)
        for slot in entry.slots:
            if slot.ask and slot.name not in named:
                ask, alang = _pick(slot.ask, lang)
                return ask, ReplyInfo("kb-slot", alang, entry.id, score, extra={"awaiting": slot.name})
        answer, alang = entry.answer_in(lang)
        return _filled(answer, entry, named, alang), ReplyInfo(
            "kb", alang, entry.id, score, handoff=entry.intent == "handoff", extra=_slot_extra(entry, named, alang))

    def knowledge(self, conversation: Conversation, entry: Entry, text: str, language: str) -> str:
        """The entry's answer as context for a language model, its slots filled from the conversation."""
        answer, alang = entry.answer_in(language)
        return _filled(answer, entry, _named_slots(conversation, entry, simplified(text)), alang)

    def respond(self, conversation: Conversation, text: str, language: str | None) -> Iterator[str | ReplyInfo]:
        answer, info = self.decide(conversation, text, language)
        yield answer
        yield info


def _pick(texts: dict[str, str], language: str) -> tuple[str, str]:
    if language in texts:
        return texts[language], language
    lang, text = next(iter(texts.items()))
    return text, lang


def _filled(answer: str, entry: Entry, named: dict[str, int], language: str) -> str:
    """``answer`` with each ``{slot}`` replaced by the named value, or the slot's default."""
    if not entry.slots:
        return answer
    return fill(answer, {s.name: s.display(named.get(s.name), language) for s in entry.slots})


def _slot_extra(entry: Entry, named: dict[str, int], language: str) -> dict:
    """{"slots": {name: value as the answer named it}} for the reply's record, or {} when none was named."""
    said = {s.name: s.display(named[s.name], language) for s in entry.slots if s.name in named}
    return {"slots": said} if said else {}


def _named_slots(conversation: Conversation, entry: Entry, text: str) -> dict[str, int]:
    """Slot name -> value index the caller has named: in this turn, else earlier in the conversation
    (a value another entry's answer recorded under the same slot name counts too)."""
    named: dict[str, int] = {}
    for slot in entry.slots:
        i = slot.find(text)
        if i is None:
            for m in reversed(conversation.messages):
                said = (m.meta.get("slots") or {}).get(slot.name) if m.role == "assistant" else None
                if said is not None and (i := slot.find(said)) is not None:
                    break
        if i is not None:
            named[slot.name] = i
    return named


def _previous_user_text(conversation: Conversation) -> str | None:
    users = [m for m in conversation.messages if m.role == "user"]
    return users[-2].text if len(users) >= 2 else None
