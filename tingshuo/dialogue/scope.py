"""Is a caller's question about this knowledge base at all? (the out-of-scope model)

    >>> scope = ScopeModel(["When are you open?", "营业时间是几点？", "I lost my card."], [0, 0, 1], 2,
    ...                    ["Will it rain tomorrow?", "明天下雨吗？"], embedder)      # doctest: +SKIP
    >>> scope.outside("What's the weather like on Sunday?")                         # doctest: +SKIP
    0.83

A small classifier (``classify.SoftmaxRegression``) trained when the knowledge base loads, on one
more class than the KB has entries: everything each entry says (its listed questions, title,
answer, the entry as one passage) labelled with the entry, and a bundled list of things callers
ask elsewhere (``data/background.yaml``: weather, sport, chit-chat, other companies' services)
labelled "elsewhere" (weighed as much as all the entries together). ``outside(text)`` is the
probability of "elsewhere": it learns what separates *this* KB from everything else, instead of
comparing one similarity with a fixed line. With no background left (a KB that answers all of
it), nothing is out of scope.

The vectors are Google's Universal Sentence Encoder multilingual v3 (``fast-universal-sentence-
encoder``, numpy only, ~2 ms a question), which was trained on question-answer pairs and told
in- from out-of-domain questions better than multilingual-e5 on the tune knowledge bases
(bench/calibrate_kb.py: 78.7 % right with 91.7 % of out-of-domain questions declined, against
64.6 % for the e5 rule at the same share declined). Background sentences the knowledge base
answers itself are dropped before training (the brain decides which: ``KBIndex``).
"""

from __future__ import annotations

import numpy as np

from .classify import SoftmaxRegression

SCOPE_C = 2.0  # inverse L2 strength (calibrated on the tune knowledge bases, with the background filter)
BACKGROUND_SHARE = 1.0  # "elsewhere" weighs as much as all entries together, whatever the KB's size


class ScopeModel:
    def __init__(self, views: list[str], labels: list[int], n_entries: int, background: list[str], embedder,
                 *, embed=None, C: float | None = None) -> None:
        """``views``: the entries' texts with their entry index in ``labels``; ``background``: texts
        from elsewhere; ``embed(embedder, texts)`` (optional) returns their vectors, cached; ``C``:
        inverse L2 strength (default: ``SCOPE_C`` as it is when called, so calibration can set it)."""
        C = SCOPE_C if C is None else C
        self.embedder = embedder
        self.n_entries = n_entries
        texts = tuple(views) + tuple(background)
        X = embed(embedder, texts) if embed else embedder.queries(list(texts))
        y = np.concatenate([np.asarray(labels, int), np.full(len(background), n_entries)])
        # Without weights the share of "elsewhere" would follow the KB's size (a small KB would decline
        # more): measured on entry subsets of the tune KBs (4 to 14 entries), this keeps the share of
        # out-of-domain questions declined at 90-93 % for every size.
        weight = np.ones(len(y))
        if len(background):
            weight[len(views):] = BACKGROUND_SHARE * len(views) / len(background)
        self.classifier = SoftmaxRegression.fit(X, y, n_entries + 1, C=C, steps=150, sample_weight=weight)

    def vector(self, text: str) -> np.ndarray:
        return self.embedder.queries([text])[0]

    def log_proba(self, text: str) -> np.ndarray:
        """Log-probabilities of each entry and, last, of "elsewhere"."""
        return self.classifier.log_proba(self.vector(text))[0]

    def outside(self, text: str) -> float:
        """The probability that ``text`` is about something this knowledge base does not cover."""
        return float(np.exp(self.log_proba(text)[self.n_entries]))
