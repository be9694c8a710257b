"""Check a knowledge base the way callers will test it: ``tingshuo chat check-kb FILE``.

    >>> report = check_kb(load_kb("my_faq.yaml"))           # doctest: +SKIP
    >>> for f in report.findings: print(f.kind, f.entries, f.message)   # doctest: +SKIP

Each listed question is left out of the brain (its classifier, passages and word index) and asked
as if a caller had said it: a question that the rest of its own entry does not win back is what
callers who phrase it that way will get wrong. Findings:

* ``misrouted``: the question is answered from another entry, or would be declined as out of
  scope (its entry says too little about it besides this one phrasing);
* ``ambiguous``: the assistant would ask the caller which of two entries is meant;
* ``confusable``: a pair of entries whose questions go to each other, or whose passages (title,
  questions, answer) are nearly the same in meaning;
* ``thin``: an entry with fewer than two phrasings in a language, or without a title (titles are
  what the assistant names when it asks which topic is meant or says what it can help with);
* ``no_handoff``: no entry with ``intent: handoff`` (an out-of-scope reply offers a human).

Each finding carries a suggestion. The same brain, settings and thresholds as ``tingshuo chat``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .kb import KnowledgeBase

PASSAGE_TWIN = 0.75  # centred cosine between two entries' passages above which they read as one topic


@dataclass(frozen=True)
class Finding:
    kind: str  # misrouted | ambiguous | confusable | thin | no_handoff
    entries: tuple[str, ...]
    message: str
    suggestion: str
    question: str | None = None

    def to_dict(self) -> dict:
        d = {"kind": self.kind, "entries": list(self.entries), "message": self.message, "suggestion": self.suggestion}
        if self.question is not None:
            d["question"] = self.question
        return d


@dataclass(frozen=True)
class CheckReport:
    kb: str
    n_entries: int
    n_questions: int
    held_out_right: int  # listed questions that, left out, still find their own entry
    findings: tuple[Finding, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        return {"kb": self.kb, "entries": self.n_entries, "questions": self.n_questions,
                "held_out_right": self.held_out_right, "findings": [f.to_dict() for f in self.findings]}


def check_kb(kb: KnowledgeBase, embedder=None) -> CheckReport:
    """Findings for ``kb`` (see the module docstring); takes about 0.2 s per listed question."""
    from ..search.embed import load_embedder
    from .brains.kb import KBBrain, KBIndex

    embedder = embedder or load_embedder()
    brain = KBBrain(kb, embedder=embedder)
    ids = [e.id for e in kb.entries]
    findings: list[Finding] = []
    pair_votes: dict[tuple[int, int], int] = {}
    right = 0
    listed = brain.index.listed_questions()
    for i, (k, lang, question) in enumerate(listed):
        brain.index = KBIndex(kb, embedder, leave_out=i)
        s = brain.index.scores(question, lang)
        verdict = brain.judge(s)
        order = [int(j) for j in s.ranked()]
        own = kb.entries[k]
        if verdict == "answer" and order[0] == k:
            right += 1
            continue
        other = order[0] if order[0] != k else order[1]
        pair = (min(k, other), max(k, other))
        pair_votes[pair] = pair_votes.get(pair, 0) + 1
        title = kb.entries[other].title_in(lang)
        if verdict == "out_of_scope":
            findings.append(Finding(
                "misrouted", (own.id,), f"'{question}' ({own.id}) would be declined as out of scope when a caller "
                f"says it in other words: the rest of the entry does not cover it.",
                f"add another phrasing of it to '{own.id}', or say it in the title or answer "
                f"(the words callers use for it)", question))
        elif verdict == "clarify":
            findings.append(Finding(
                "ambiguous", (own.id, ids[other]), f"'{question}' ({own.id}) would get a clarifying question "
                f"between '{own.id}' and '{ids[other]}' ({title}).",
                f"give '{own.id}' a phrasing that names what differs from '{ids[other]}', or merge the two "
                f"entries if callers cannot tell them apart", question))
        else:
            findings.append(Finding(
                "misrouted", (own.id, ids[order[0]]), f"'{question}' ({own.id}) matches '{ids[order[0]]}' "
                f"({kb.entries[order[0]].title_in(lang)}) better than the rest of its own entry.",
                f"if it belongs to '{ids[order[0]]}', move it there; otherwise add phrasings to '{own.id}' that "
                f"say what makes it different (words from its answer), and check '{ids[order[0]]}' does not "
                f"also answer it", question))
    brain.index = KBIndex(kb, embedder)
    twins = _passage_twins(brain.index)
    for (a, b), votes in sorted(pair_votes.items(), key=lambda x: -x[1]):
        sim = twins.pop((a, b), None)
        if votes >= 2 or sim is not None:
            findings.append(_confusable(kb, a, b, f"{votes} of their questions go to the other"))
    for (a, b), sim in twins.items():
        findings.append(_confusable(kb, a, b, f"their passages mean nearly the same (similarity {sim:.2f})"))
    findings += _thin(kb)
    if not any(e.intent == "handoff" for e in kb.entries):
        findings.append(Finding("no_handoff", (), "no entry has intent: handoff.",
                                "add one (\"I want to talk to a person\" / 转人工) so callers can reach a human; "
                                "out-of-scope replies offer one"))
    return CheckReport(kb.name, len(kb.entries), len(listed), right, tuple(findings))


def _confusable(kb: KnowledgeBase, a: int, b: int, why: str) -> Finding:
    ea, eb = kb.entries[a], kb.entries[b]
    return Finding("confusable", (ea.id, eb.id), f"'{ea.id}' ({ea.title_in('en')}) and '{eb.id}' "
                   f"({eb.title_in('en')}) are likely to be confused: {why}.",
                   "make each entry's questions and title say what only it covers, merge them if they are one "
                   "topic, or make one a follow-up of the other")


def _passage_twins(index) -> dict[tuple[int, int], float]:
    out = {}
    for vectors in index._p.values():
        sims = vectors @ vectors.T
        for a, b in zip(*np.where(np.triu(sims, 1) >= PASSAGE_TWIN)):
            out[(int(a), int(b))] = max(out.get((int(a), int(b)), 0.0), float(sims[a, b]))
    return out


def _thin(kb: KnowledgeBase) -> list[Finding]:
    out = []
    langs = {lg for e in kb.entries for lg in e.questions}
    for e in kb.entries:
        for lg in sorted(langs):
            n = len(e.questions.get(lg, ()))
            if n < 2:
                out.append(Finding("thin", (e.id,), f"'{e.id}' has {n} {lg} phrasing{'s' if n != 1 else ''}.",
                                   f"add two or three {lg} phrasings in callers' own words (not variants of "
                                   f"one sentence)"))
        if not e.title:
            out.append(Finding("thin", (e.id,), f"'{e.id}' has no title.",
                               "add title: {en: ..., zh: ...}; the assistant names it when it asks which topic "
                               "is meant and when it says what it can help with"))
    return out
