"""Text <-> token ids: characters (Mandarin and English) or BPE pieces (sentencepiece).

Id 0 is the CTC blank, id 1 ``<unk>``, the last id ``<sos/eos>``. A tokenizer saves itself as
JSON (plus the sentencepiece model for BPE); decoding needs only that JSON, so exported
models detokenize without sentencepiece or torch.

    >>> tok = CharTokenizer.build(["Hello world"], lang="en")
    >>> tok.decode(tok.encode("hello"))
    'hello'
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from pathlib import Path
from typing import Iterable, Sequence

BLANK, UNK = "<blank>", "<unk>"
SOS_EOS = "<sos/eos>"
SPACE = "▁"  # the word boundary, as sentencepiece writes it


class UnknownCharacter(ValueError):
    """A character the tokenizer's vocabulary does not hold."""


def normalize(text: str, lang: str) -> str:
    """What the models learn: English lower case letters, digits, apostrophes and single spaces;
    Mandarin without punctuation or spaces (Latin letters lower-cased)."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.replace("’", "'").replace("‘", "'")
    if lang == "zh":
        return re.sub(r"[\W_]+", "", text)
    text = re.sub(r"[^\w' ]+", " ", text).replace("_", " ")
    text = re.sub(r"(?<!\w)'|'(?!\w)", " ", text)  # quotes, not apostrophes
    return " ".join(text.split())


class CharTokenizer:
    kind = "char"

    def __init__(self, chars: Sequence[str], lang: str) -> None:
        self.lang = lang
        self.vocab = [BLANK, UNK, *chars, SOS_EOS]
        self._ids = {c: i for i, c in enumerate(self.vocab)}

    @classmethod
    def build(cls, texts: Iterable[str], lang: str) -> "CharTokenizer":
        chars = set()
        for t in texts:
            chars.update(normalize(t, lang).replace(" ", SPACE))
        return cls(sorted(chars), lang)

    @property
    def blank_id(self) -> int:
        return 0

    @property
    def sos_eos_id(self) -> int:
        return len(self.vocab) - 1

    def __len__(self) -> int:
        return len(self.vocab)

    def encode(self, text: str, *, strict: bool = True) -> list[int]:
        """Ids of the normalised ``text``; a character outside the vocabulary raises
        ``UnknownCharacter`` when ``strict``, else maps to ``<unk>``."""
        out = []
        for ch in normalize(text, self.lang).replace(" ", SPACE):
            i = self._ids.get(ch)
            if i is None:
                if strict:
                    raise UnknownCharacter(ch)
                i = 1
            out.append(i)
        return out

    def decode(self, ids: Iterable[int]) -> str:
        return ids_to_text(ids, self.vocab)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "lang": self.lang, "vocab": self.vocab}

    def save(self, folder: str | os.PathLike) -> Path:
        from ..util import atomic_write_text

        return atomic_write_text(Path(folder) / "tokenizer.json", json.dumps(self.to_dict(), ensure_ascii=False))


class BPETokenizer(CharTokenizer):
    """sentencepiece BPE; ids are the model's pieces shifted by one (0 is the CTC blank)."""

    kind = "bpe"

    def __init__(self, model_path: str | os.PathLike, lang: str) -> None:
        import sentencepiece as spm

        self.model_path = Path(model_path)
        self.sp = spm.SentencePieceProcessor(model_file=str(self.model_path))
        self.lang = lang
        pieces = [self.sp.id_to_piece(i) for i in range(self.sp.get_piece_size())]
        # sentencepiece's own unk (id 0) becomes our <unk> at id 1
        self.vocab = [BLANK, UNK, *pieces[1:], SOS_EOS]

    @classmethod
    def train(cls, texts: Iterable[str], lang: str, folder: str | os.PathLike, vocab_size: int) -> "BPETokenizer":
        import sentencepiece as spm

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        corpus = folder / "bpe_corpus.txt"
        lines = [normalize(t, lang) for t in texts]
        corpus.write_text("\n".join(x for x in lines if x) + "\n", encoding="utf-8")
        n_chars = len(set("".join(lines)))
        spm.SentencePieceTrainer.train(
            input=str(corpus), model_prefix=str(folder / "bpe"), vocab_size=max(vocab_size, n_chars + 4),
            model_type="bpe", character_coverage=1.0, unk_id=0, bos_id=-1, eos_id=-1, pad_id=-1,
            hard_vocab_limit=False, minloglevel=2, num_threads=1)
        corpus.unlink()
        return cls(folder / "bpe.model", lang)

    def encode(self, text: str, *, strict: bool = True) -> list[int]:
        norm = normalize(text, self.lang)
        ids = self.sp.encode(norm)
        if strict and 0 in ids:
            unknown = next((ch for ch in norm if self.sp.piece_to_id(ch) == 0 and ch != " "), "?")
            raise UnknownCharacter(unknown)
        return [i + 1 if i else 1 for i in ids]

    def to_dict(self) -> dict:
        return {"kind": self.kind, "lang": self.lang, "vocab": self.vocab, "model": self.model_path.name}


def ids_to_text(ids: Iterable[int], vocab: Sequence[str]) -> str:
    """Join pieces, ``▁`` -> space, specials dropped (works for both tokenizers, no dependencies)."""
    n = len(vocab)
    pieces = [vocab[i] for i in ids if 1 < i < n - 1]
    return "".join(pieces).replace(SPACE, " ").strip()


def load_tokenizer(folder: str | os.PathLike) -> CharTokenizer:
    folder = Path(folder)
    data = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    if data["kind"] == "bpe":
        return BPETokenizer(folder / data["model"], data["lang"])
    return CharTokenizer(data["vocab"][2:-1], data["lang"])


__all__ = ["BPETokenizer", "CharTokenizer", "UnknownCharacter", "ids_to_text", "load_tokenizer", "normalize"]
