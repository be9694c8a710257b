"""One file's contribution to the index, made by a plain function: path -> transcript -> passages -> vectors.

    >>> doc = process_file("talk.wav", transcriber=t, embedder=e)   # doctest: +SKIP
    >>> len(doc.passages), doc.vectors.shape, doc.vectors_use.shape, doc.vector_units[0]   # doctest: +SKIP
    (65, (66, 384), (66, 512), (0, 0))

The driver (``index.Index.add``) decides what needs doing and writes documents to the store; the
per-file work here has no state, so a local loop and a Ray actor run the same code.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..types import Segment, Transcript, Word
from .passages import UNITS_VERSION, Passage, passages_of, unit_texts
from .sidecar import find_sidecar, read_transcript
from .text import _t2s, has_han, joined_numbers, lexical_tokens, pinyin_tokens, raw_tokens

HASH_BLOCK = 1 << 20
EMBED_BATCH = 64  # passages per call to the embedder (bounds memory on long files)


@dataclass(frozen=True, eq=False)
class Document:
    """Everything one audio file adds to the index."""

    path: str  # absolute
    content_hash: str
    size: int
    mtime_ns: int
    duration_s: float
    language: str | None
    transcript_source: str  # asr, json, srt, vtt
    recogniser: str | None
    segments: tuple[Segment, ...]
    passages: tuple[Passage, ...]
    lex: tuple[str, ...]  # FTS5 terms per passage, space-separated
    py: tuple[str, ...]
    vectors: np.ndarray  # (n_units, dim) float32, unit length: one per unit (sentence), embedded alone
    vector_units: tuple[tuple[int, int], ...] = ()  # per vector: (index of its owner passage, unit)
    # (n_units, 512) float32: the same units by the second encoder (USE), which re-scores candidates
    vectors_use: np.ndarray | None = None
    units_version: int = UNITS_VERSION  # how its units were made (passages.UNITS_VERSION)


@dataclass(frozen=True)
class FileState:
    """What decides whether a file must be indexed again: its bytes and its sidecar's."""

    path: str
    sidecar: str | None
    size: int  # audio + sidecar bytes
    mtime_ns: int  # the later of the two


def abs_path(path: str | os.PathLike) -> str:
    """The absolute path a file is indexed under. A ".." is resolved through the real folder, so
    ``rec/../rec/a.wav`` or ``../src/a.wav`` is keyed as the file's plain path (it was stored with the
    "..", a second entry for the same file). The file's own name is kept: a symlink stays itself."""
    p = Path(path).absolute()
    if ".." in p.parts:
        p = Path(os.path.realpath(p)) if p.name == ".." else Path(os.path.realpath(p.parent)) / p.name
    return str(p)


def file_state(path: str | os.PathLike) -> FileState:
    p = Path(abs_path(path))
    st = p.stat()
    if not stat.S_ISREG(st.st_mode):  # a device or a pipe: its content hash would read forever
        raise OSError(errno.EINVAL, "a device, a pipe or a socket, not a regular file; give audio files")
    side = find_sidecar(p)
    size, mtime = st.st_size, st.st_mtime_ns
    if side is not None:
        sst = side.stat()
        size += sst.st_size
        mtime = max(mtime, sst.st_mtime_ns)
    return FileState(str(p), str(side) if side else None, size, mtime)


def content_hash(state: FileState) -> str:
    """BLAKE2b of the audio bytes, and of the sidecar transcript's when there is one."""
    h = hashlib.blake2b(digest_size=20)
    for p in filter(None, (state.path, state.sidecar)):
        with open(p, "rb") as fh:
            while block := fh.read(HASH_BLOCK):
                h.update(block)
        h.update(b"\0")
    return h.hexdigest()


def embed_text(text: str) -> str:
    """What the embedder reads: NFKC and simplified Chinese, case kept (e5 is cased)."""
    text = unicodedata.normalize("NFKC", text)
    return _t2s(text) if has_han(text) else text


def embed_passages(embedder, texts: list[str]) -> np.ndarray:
    """(n, dim) float32 vectors of passage-side texts (e5's "passage:" prefix), ``EMBED_BATCH`` at a time."""
    if not texts:
        return np.zeros((0, embedder.dim), np.float32)
    parts = [embedder.passages([embed_text(t) for t in texts[k:k + EMBED_BATCH]])
             for k in range(0, len(texts), EMBED_BATCH)]
    return np.concatenate(parts).astype(np.float32)


def embed_use(rescorer, texts: list[str]) -> np.ndarray:
    """(n, 512) float32 Universal Sentence Encoder vectors of unit texts (one space for both sides)."""
    return embed_passages(rescorer, texts)


def load_rescorer():
    """The second encoder every unit is embedded with (USE multilingual v3), loaded once."""
    from .embed import load_embedder

    return load_embedder("use")


def terms(passage: Passage) -> tuple[str, str]:
    """The passage's FTS5 columns: lexical terms and pinyin bigrams, space-separated."""
    toks = raw_tokens(passage.text)
    return " ".join(lexical_tokens(toks) + joined_numbers(toks)), " ".join(pinyin_tokens(toks))


def make_document(state: FileState, transcript: Transcript, *, content_hash: str, source: str,
                  recogniser: str | None, embedder, rescorer=None, known: dict | None = None) -> Document:
    """``rescorer``: the second encoder (default: USE, loaded once per process). ``known``: {unit text:
    (e5 vector, USE vector)} already embedded (a file's units made anew): those texts are not embedded again."""
    passages = tuple(passages_of(transcript))
    lex, py = zip(*[terms(p) for p in passages]) if passages else ((), ())
    units = unit_texts(passages)
    texts = [text for _k, _u, text in units]
    known = known or {}
    new = [t for t in dict.fromkeys(texts) if t not in known]
    if new or not texts:
        made = dict(zip(new, zip(embed_passages(embedder, new), embed_use(rescorer or load_rescorer(), new))))
    else:
        made = {}
    pairs = [known.get(t) or made[t] for t in texts]
    dim = getattr(embedder, "dim", 384)
    vectors = np.stack([p[0] for p in pairs]).astype(np.float32) if pairs else np.zeros((0, dim), np.float32)
    vectors_use = np.stack([p[1] for p in pairs]).astype(np.float32) if pairs else np.zeros((0, 512), np.float32)
    return Document(path=state.path, content_hash=content_hash, size=state.size, mtime_ns=state.mtime_ns,
                    duration_s=float(transcript.duration_s or (passages[-1].end_s if passages else 0.0)),
                    language=transcript.language, transcript_source=source, recogniser=recogniser,
                    segments=tuple(transcript.segments), passages=passages, lex=tuple(lex), py=tuple(py),
                    vectors=vectors, vector_units=tuple((k, u) for k, u, _t in units), vectors_use=vectors_use)


def stored_transcript(file_row, segments: list, passages: list) -> tuple[Transcript, tuple[Segment, ...]]:
    """A file's transcript again from what the index stored (no recognition): its words with their times,
    each unit's words taken from the first passage that holds it (a passage holds whole units). The words
    go in one segment: units are cut by words, pauses and punctuation only (``passages.units_of``).
    Returns it and the stored segments (kept as they were)."""
    from .store import passage_words_of

    taken: set[int] = set()
    words: list[Word] = []
    for pid, _lo, _hi, words_json in passages:
        fresh = [w for w in passage_words_of(words_json, pid) if w[3] not in taken]
        taken.update(w[3] for w in fresh)
        words += [Word(float(w[0]), float(w[1]), w[2]) for w in fresh]  # passages come in unit order
    segs = (Segment(words[0].start_s, words[-1].end_s, "".join(w.text for w in words), tuple(words),
                    language=file_row.language),) if words else ()
    stored = tuple(Segment(float(a), float(b), t, language=lg) for a, b, t, lg in segments)
    text = " ".join(s.text for s in stored).strip() or (segs[0].text if segs else "")
    return Transcript(text=text, segments=segs, language=file_row.language, language_probability=1.0,
                      duration_s=float(file_row.duration_s)), stored


def sidecar_transcript(state: FileState) -> tuple[Transcript, str] | None:
    """The transcript beside the audio and its kind (json, srt, vtt), or None when there is none."""
    if not state.sidecar:
        return None
    return read_transcript(state.sidecar, audio_duration(state.path)), Path(state.sidecar).suffix[1:].lower()


def audio_duration(path: str) -> float | None:
    """The audio's length from its header (None when the container does not say), which a sidecar's
    times must fit; an audio file that cannot be opened is one failed file (it could not be played)."""
    from ..audio.io import probe

    return probe(path).duration_s


def process_file(path: str | os.PathLike, *, transcriber, embedder, language: str | None = None) -> Document:
    """One file, start to finish: its sidecar transcript or speech recognition, then passages and vectors."""
    state = file_state(path)
    chash = content_hash(state)
    side = sidecar_transcript(state)
    if side is not None:
        transcript, source = side
        return make_document(state, transcript, content_hash=chash, source=source, recogniser=None, embedder=embedder)
    transcript = transcriber.transcribe(state.path, language=language, word_timestamps=True)
    return make_document(state, transcript, content_hash=chash, source="asr", recogniser=transcriber.model_name,
                         embedder=embedder)
