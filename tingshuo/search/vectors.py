"""Nearest passages by cosine: a memory-mapped float16 matrix, and 384-bit sign codes above a size.

    >>> vs = VectorCache(lib_dir, store)      # rebuilt from SQLite when the index changed  # doctest: +SKIP
    >>> ids, cos = vs.search(query_vector, k=50)                                         # doctest: +SKIP

SQLite holds the vectors (the truth, written with each file); this cache is derived from it and
rebuilt whenever the stored (count, max id) no longer match, written to temp files and renamed.

Method (measured, docs/search.md): up to ``EXACT_MAX`` passages an exact scan (the rows held in
memory as float32, at most 77 MB); above it, binary codes — the sign of each component after subtracting the
mean vector (e5 vectors share a large common direction) — ranked by Hamming distance with
``numpy.bitwise_count``, the best of those ranked again by the float query against the codes
(asymmetric distance, a lookup table per byte), and the best ``RESCORE`` re-scored exactly from
the float16 rows.
Memory: the codes (48 bytes a passage) are read into RAM; the float16 rows stay memory-mapped
and only the candidates' pages are touched.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import threading
import time
from pathlib import Path

import numpy as np

REFERENCE = Path(__file__).parent / "data" / "reference.txt"
LANGS = ("en", "zh")

EXACT_MAX = 50_000  # passages scanned exactly; above it, sign codes + re-scoring
RESCORE = 1000  # candidates re-scored exactly (float16 rows) at the end
PRESELECT = 16  # x RESCORE rows kept by Hamming distance for the lookup-table ranking
BLOCK = 65536  # rows per block in the exact scan (bounded temporary memory)
REBUILD_TRIES = 5  # rebuilds of a cache that another process keeps making stale, before an error
# the cache's files: vectors.json, vectors.<tag>.f16/.ids/.codes (tag: pid-thread-time_ns) and vectors.json.<tag>.tmp
GENERATION = re.compile(r"vectors\.(\d+-\d+-\d+)\.(?:f16|ids|codes)")
CACHE_FILE = re.compile(r"vectors\.(?:json|json\.\d+-\d+-\d+\.tmp|\d+-\d+-\d+\.(?:f16|ids|codes))")


def is_cache_file(name: str) -> bool:
    """A file the vector cache writes (not a recording that happens to be called vectors.wav)."""
    return CACHE_FILE.fullmatch(name) is not None


CACHE_VERSION = 3  # rows: unit (sentence) vectors, centred (reference means), unit length


@functools.lru_cache(maxsize=1)
def reference_sentences() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {lg: [] for lg in LANGS}
    for line in REFERENCE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            lang, text = line.split("\t", 1)
            out[lang].append(text)
    return out


def reference_means(embedder) -> dict[str, list[np.ndarray]]:
    """{lang: [mean query vector, mean passage vector]} over bundled generic sentences (data/reference.txt).

    e5 vectors of one language share a large common direction; subtracting it (per language, per
    side) before the cosine makes Mandarin and English comparable and scores calibratable.
    """
    cached = getattr(embedder, "_tingshuo_search_means", None)
    if cached is None:
        sents = reference_sentences()
        cached = {lg: [embedder.queries(sents[lg]).mean(axis=0).astype(np.float32),
                       embedder.passages(sents[lg]).mean(axis=0).astype(np.float32)] for lg in LANGS}
        try:
            embedder._tingshuo_search_means = cached
        except AttributeError:
            pass
    return cached


def centre(vecs: np.ndarray, langs, means: dict, side: int = 1) -> np.ndarray:
    """Rows minus their language's mean (``side`` 0: query means, 1: passage means), unit length again."""
    vecs = np.atleast_2d(np.asarray(vecs, np.float32))
    mu = np.stack([means[lg if lg in means else "en"][side] for lg in langs])
    out = vecs - mu
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-6)


def sign_codes(mat: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """(n, dim) float -> (n, dim/64) uint64 sign bits of (row - mean)."""
    bits = np.packbits((mat.astype(np.float32) - mean) > 0, axis=1)
    return np.ascontiguousarray(bits).view(np.uint64)


class VectorCache:
    """The derived, memory-mapped vector files of one index folder."""

    def __init__(self, folder: str | Path, store, means_fn, dim: int = 384) -> None:
        self.folder = Path(folder)
        self.store = store
        self.means_fn = means_fn  # () -> reference means (vectors are stored centred)
        self.dim = dim
        self._lock = threading.Lock()
        self._state = None
        self._ids = self._mat = self._codes = self._mean = None

    # ------------------------------------------------------------------ files
    def _paths(self, tag: str):
        f = self.folder
        return f / f"vectors.{tag}.f16", f / f"vectors.{tag}.ids", f / f"vectors.{tag}.codes"

    def _load(self) -> bool:
        meta_p = self.folder / "vectors.json"
        try:
            meta = json.loads(meta_p.read_text())
            mat_p, ids_p, codes_p = self._paths(meta["tag"])
            n = int(meta["n"])
        except (OSError, ValueError, KeyError):
            return False
        if meta.get("state") != list(self.store.vector_state()) or meta.get("dim") != self.dim or \
                meta.get("version") != CACHE_VERSION:
            return False
        try:
            if 0 < n <= EXACT_MAX:  # small: the float32 rows in memory (<= 77 MB), no conversion per query
                self._ids = np.fromfile(ids_p, np.int64, count=n)
                self._mat = np.fromfile(mat_p, np.float16, count=n * self.dim).reshape(n, self.dim).astype(np.float32)
                self._codes, self._mean = None, None
            elif n == 0:
                self._ids = np.zeros(0, np.int64)
                self._mat = np.zeros((0, self.dim), np.float32)
                self._codes, self._mean = None, None
            else:
                self._ids = np.fromfile(ids_p, np.int64, count=n)
                self._mat = np.memmap(mat_p, np.float16, "r", shape=(n, self.dim))
                self._mean = np.asarray(meta["mean"], np.float32)
                # held column by column ((dim/64, n), contiguous rows): the Hamming pass reads each once
                self._codes = np.ascontiguousarray(np.fromfile(codes_p, np.uint64, count=n * (self.dim // 64))
                                                   .reshape(n, -1).T)
        except (OSError, ValueError):  # replaced by another process's rebuild while we read: rebuild
            return False
        if len(self._ids) != n:
            return False
        self._state = tuple(meta["state"])
        return True

    def rebuild(self, on_progress=None) -> None:
        """Write the cache from SQLite: new files under a fresh tag, then vectors.json (which names the
        tag) replaced atomically, then the old files removed. Readers see one generation or the other."""
        self.folder.mkdir(parents=True, exist_ok=True)
        state = self.store.vector_state()
        tag = f"{os.getpid()}-{threading.get_ident()}-{time.time_ns()}"
        mat_p, ids_p, codes_p = self._paths(tag)
        total = np.zeros(self.dim, np.float64)
        n = 0
        try:
            with open(mat_p, "wb") as fm, open(ids_p, "wb") as fi:
                means = self.means_fn()
                for ids, mat, langs in self.store.iter_vectors():
                    mat = centre(mat, langs, means).astype(np.float16)
                    fm.write(np.ascontiguousarray(mat).tobytes())
                    fi.write(ids.tobytes())
                    total += mat.astype(np.float64).sum(axis=0)
                    n += len(ids)
                    if on_progress:
                        on_progress(len(ids))
            mean = (total / max(n, 1)).astype(np.float32)  # of the centred rows: the codes' origin
            if n > EXACT_MAX:
                mat = np.memmap(mat_p, np.float16, "r", shape=(n, self.dim))
                with open(codes_p, "wb") as fc:
                    for k in range(0, n, BLOCK):
                        fc.write(sign_codes(np.asarray(mat[k:k + BLOCK]), mean).tobytes())
                del mat
            meta = {"n": n, "state": list(state) if self.store.vector_state() == state else None, "dim": self.dim,
                    "version": CACHE_VERSION, "tag": tag, "mean": [round(float(x), 6) for x in mean]}
            tmp_meta = self.folder / f"vectors.json.{tag}.tmp"
            tmp_meta.write_text(json.dumps(meta))
            os.replace(tmp_meta, self.folder / "vectors.json")
        except BaseException:
            for p in (mat_p, ids_p, codes_p):
                with contextlib.suppress(OSError):
                    p.unlink()
            raise
        # earlier generations (an open memmap keeps its inode); not the one vectors.json names now: another
        # process indexing the same folder may have published its own since (its loader would find none)
        keep = {tag}
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            keep.add(str(json.loads((self.folder / "vectors.json").read_text())["tag"]))
        for old in self.folder.glob("vectors.*"):
            # only the cache's own generations: an index kept in the recordings' folder (--index rec/ for
            # rec/) deleted the recording vectors.wav, which matched "vectors.*"
            m = GENERATION.fullmatch(old.name)
            if m and m.group(1) not in keep:
                with contextlib.suppress(OSError):
                    old.unlink()

    def ensure(self) -> None:
        """Load the cache, rebuilding it first when SQLite changed since it was written."""
        with self._lock:
            if self._state is not None and self._state == self.store.vector_state():
                return
            self._state = None
            # another process writing the index meanwhile (a file added, a cache published) makes a
            # rebuild stale at once: build again, a few times, before giving up
            for attempt in range(REBUILD_TRIES):
                if self._load():
                    return
                if attempt:
                    time.sleep(0.05 * attempt)
                if getattr(self.store, "readonly", False) and not getattr(self, "_private", False):
                    # an index on read-only storage whose cache is stale or missing: built in a private
                    # temporary folder for this process, never beside the index
                    import atexit
                    import shutil
                    import tempfile

                    self.folder = Path(tempfile.mkdtemp(prefix="tingshuo-vectors-"))
                    self._private = True
                    atexit.register(shutil.rmtree, self.folder, True)
                self.rebuild()
            if not self._load():
                raise RuntimeError("the vector cache changed while it was rebuilt; search again")

    # ------------------------------------------------------------------ search
    def _shortlist(self, q: np.ndarray, codes: np.ndarray, m: int) -> np.ndarray:
        # codes: (dim/64, n) uint64
        """Row indices of ``m`` likely neighbours: Hamming distance to the query's sign code picks
        ``PRESELECT`` x m rows, which are then ranked by the float query against their sign codes
        (asymmetric: a lookup table per code byte), far closer to the true order than Hamming alone."""
        qc = q - self._mean
        code = sign_codes(q[None, :], self._mean)[0]
        n = codes.shape[1]
        dist = np.zeros(n, np.uint16)
        xor = np.empty(n, np.uint64)
        for j in range(codes.shape[0]):  # column by column, into reused buffers: no (n, 6) temporaries
            np.bitwise_xor(codes[j], code[j], out=xor)
            np.add(dist, np.bitwise_count(xor), out=dist)
        k = min(n, PRESELECT * m)
        if k < n:  # distances are 0..dim: a histogram finds the k-th smallest faster than argpartition
            cum = np.cumsum(np.bincount(dist, minlength=self.dim + 1))
            cut = int(np.searchsorted(cum, k))  # rows at distance <= cut are at least k
            below = np.flatnonzero(dist < cut)
            at = np.flatnonzero(dist == cut)[:k - len(below)]
            pre = np.concatenate([below, at])
        else:
            pre = np.arange(n)
        # table[j, b]: the contribution of code byte j holding value b (bits big-endian, as packbits)
        bits = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).astype(np.float32) * 2 - 1
        table = qc.reshape(-1, 8) @ bits.T  # (dim/8, 256)
        bytes_ = np.ascontiguousarray(codes[:, pre].T).view(np.uint8)  # (k, dim/8)
        approx = table[np.arange(table.shape[0]), bytes_].sum(axis=1)
        keep = np.argpartition(-approx, m - 1)[:m] if m < k else np.arange(k)
        out = pre[keep]
        out.sort()
        return out

    def search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Vector ids (``Store.vector_owners`` maps them to passage and unit) and cosines of the ``k``
        nearest stored vectors to the unit vector ``q``."""
        self.ensure()
        ids, mat, codes = self._ids, self._mat, self._codes
        n = len(ids)
        if n == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        q = np.asarray(q, np.float32).reshape(-1)
        if codes is None:
            if mat.dtype == np.float32:
                scores = mat @ q
            else:  # a large cache scanned exactly (only when codes are switched off, as the benchmark does)
                scores = np.empty(n, np.float32)
                for s in range(0, n, BLOCK):
                    scores[s:s + BLOCK] = np.asarray(mat[s:s + BLOCK], np.float32) @ q
            cand = np.arange(n)
        else:
            cand = self._shortlist(q, codes, min(RESCORE, n))
            scores = np.asarray(mat[cand], np.float32) @ q
        kk = min(k, len(scores))
        top = np.argpartition(-scores, kk - 1)[:kk]
        top = top[np.argsort(-scores[top])]
        return ids[cand[top]], scores[top]
