"""Knowledge bases for the customer-service brain: load YAML, CSV or Markdown; validate with line numbers.

YAML (the richest form; see tingshuo/dialogue/data/bank.yaml)::

    entries:
      - id: card_lost
        title: {en: a lost card, zh: 银行卡挂失}
        questions: {en: [I lost my card], zh: [我的银行卡丢了]}
        answer: {en: Freeze it in the app..., zh: 请立即冻结...}
        follow_ups:
          - questions: {en: [How long does that take?]}
            answer: {en: About seven working days.}
        intent: handoff            # optional: this entry hands the caller to a human
      - id: transfer_international
        ...
        answer: {en: You can send money to {country} in the app..., zh: 向{country}汇款...}
        slots:                     # optional: values the caller may name (YAML only)
          country:
            values: [{en: [Canada], zh: [加拿大]}, {en: [the United States, USA], zh: [美国]}]
            default: {en: another country, zh: 境外}   # fills {country} when no value was named
            ask: {en: Which country?, zh: 汇往哪个国家？}  # optional: asked until one is named

A named slot value is evidence for its entry (it adds to the entry's score), fills ``{name}`` in
the entry's answers and follow-ups, and is remembered for the rest of the conversation.

CSV: a header with ``id``, ``question`` or ``question_<lang>`` (several questions separated by
``|``), ``answer`` or ``answer_<lang>``, optional ``intent`` and ``title_<lang>``.

Markdown: one ``## id`` heading per entry, then ``Q:``/``问：`` lines and ``A:``/``答：`` lines;
the language of each line is read from its script.
"""

from __future__ import annotations

import csv
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ManifestError
from ..util import load_yaml_checked

BUILTIN = {"bank": Path(__file__).parent / "data" / "bank.yaml"}
MAX_KB_BYTES = 4_000_000  # bank.yaml is 20 kB; 2 MB (12,500 entries) already takes minutes to embed


def text_language(text: str) -> str:
    """'zh' when the text is mostly CJK characters, else 'en'."""
    cjk = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
    latin = sum(1 for ch in text if ch.isascii() and ch.isalpha())
    return "zh" if cjk >= max(1, latin / 4) else "en"


@dataclass(frozen=True)
class FollowUp:
    questions: dict[str, tuple[str, ...]]
    answer: dict[str, str]


@dataclass(frozen=True)
class Slot:
    """Something the caller may name (a country, a card type): a list of values, each with its
    surface forms per language; the first form in a language is how answers in it name the value."""

    name: str
    values: tuple[dict[str, tuple[str, ...]], ...]
    default: dict[str, str] = field(default_factory=dict)  # fills {name} when no value is known
    ask: dict[str, str] = field(default_factory=dict)  # asked when the caller has not named a value

    def find(self, text: str) -> int | None:
        """Index of the value the text names (the longest form wins), or None."""
        found = self._match(text)
        return None if found is None else found[0]

    def generic(self, text: str, language: str | None) -> str:
        """The text with the named value replaced by the default ("in Canada" -> "in another country"),
        so that it reads as the general question the entry answers; unchanged without a default."""
        found = self._match(text)
        if found is None or not self.default:
            return text
        start, end = found[1]
        text = simplified(text)  # the span is in the simplified text (the same for text without CJK)
        return text[:start] + self.display(None, language) + text[end:]

    def _match(self, text: str) -> tuple[int, tuple[int, int]] | None:
        text = simplified(text)
        best: tuple[int, tuple[int, int]] | None = None  # (value index, span)
        for i, value in enumerate(self.values):
            for forms in value.values():
                for form in forms:
                    span = _mentions(text, form)
                    if span and (best is None or span[1] - span[0] > best[1][1] - best[1][0]):
                        best = (i, span)
        return best

    def display(self, index: int | None, language: str | None) -> str:
        """How an answer in ``language`` names value ``index`` (or the default for None)."""
        if index is None:
            return _pick(self.default, language)[0] if self.default else ""
        return _pick(self.values[index], language)[0][0]


def _mentions(text: str, form: str) -> tuple[int, int] | None:
    """Where ``form`` occurs in ``text``: as a whole word for Latin script, as a substring for CJK
    (matched as simplified characters)."""
    if not form.isascii():
        form = simplified(form)
        i = text.find(form)
        return None if i < 0 else (i, i + len(form))
    m = re.search(r"(?<![A-Za-z0-9])" + re.escape(form) + r"(?![A-Za-z0-9])", text, re.I)
    return None if m is None else m.span()


@functools.lru_cache(maxsize=4096)
def simplified(text: str) -> str:
    """Chinese characters as simplified (OpenCC t2s); text without any is returned as is."""
    if not any("\u4e00" <= ch <= "\u9fff" for ch in text):
        return text
    from ..asr.text import to_script

    return to_script(text, "zh", "simplified")


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def fill(text: str, values: dict[str, str]) -> str:
    """Replace ``{name}`` placeholders that ``values`` knows; other braces are left as written."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


@dataclass(frozen=True)
class Entry:
    id: str
    questions: dict[str, tuple[str, ...]]  # language -> questions
    answer: dict[str, str]  # language -> answer
    title: dict[str, str] = field(default_factory=dict)
    follow_ups: tuple[FollowUp, ...] = ()
    intent: str | None = None
    line: int = 0
    slots: tuple[Slot, ...] = ()

    def answer_in(self, language: str | None) -> tuple[str, str]:
        """(answer, its language): the caller's language when the entry has it."""
        return _pick(self.answer, language)

    def title_in(self, language: str | None) -> str:
        return _pick(self.title, language)[0] if self.title else self.id.replace("_", " ")


def _pick(texts: dict[str, str], language: str | None) -> tuple[str, str]:
    if language in texts:
        return texts[language], language  # type: ignore[index]
    lang, text = next(iter(texts.items()))
    return text, lang


@dataclass(frozen=True)
class KnowledgeBase:
    name: str
    entries: tuple[Entry, ...]
    prompts: dict[str, dict[str, str]] = field(default_factory=dict)  # greeting, clarify, not_heard, ...
    path: str | None = None

    def vocabulary(self, limit: int = 40) -> tuple[str, ...]:
        """The entries' titles in every language: hot words for the recogniser (domain terms)."""
        seen: dict[str, None] = {}
        for e in self.entries:
            for t in e.title.values():
                seen.setdefault(t.strip(), None)
        return tuple(t for t in seen if t)[:limit]

    def prompt(self, key: str, language: str | None) -> str:
        texts = self.prompts.get(key)
        if not texts or (language not in texts and language in DEFAULT_PROMPTS[key]):
            texts = DEFAULT_PROMPTS[key]  # the caller's language from the defaults, not another language
        return _pick(texts, language)[0]

    def entry(self, entry_id: str) -> Entry:
        return next(e for e in self.entries if e.id == entry_id)


DEFAULT_PROMPTS = {
    "greeting": {"en": "Hello, how can I help you?", "zh": "您好，请问有什么可以帮您？"},
    "clarify": {"en": "Sorry, I'm not sure I understood. Are you asking about {a}, or {b}?",
                "zh": "抱歉，我没有完全听明白。您是想咨询{a}，还是{b}？"},
    "not_heard": {"en": "Sorry, I didn't catch that. Could you say it again?",
                  "zh": "抱歉，我没有听清楚，请您再说一遍。"},
    "handoff": {"en": "Sure, I'm transferring you to a human agent now.", "zh": "好的，正在为您转接人工客服。"},
    # said when no entry fits; {topics} lists the first titles of the knowledge base
    "out_of_scope": {"en": "Sorry, I can't help with that here. I can help with {topics}. "
                           "Would you like me to put you through to a colleague?",
                     "zh": "抱歉，这个问题我这里无法解答。我可以为您解答{topics}方面的问题。需要为您转接人工客服吗？"},
}


def load_kb(source: str | Path) -> KnowledgeBase:
    """Load a knowledge base from a .yaml/.yml, .csv or .md file, or a built-in name ('bank')."""
    if str(source) in BUILTIN:
        source = BUILTIN[str(source)]
    path = Path(source)
    if not path.is_file():
        what = ("is a folder" if path.is_dir() else "is not a regular file") if path.exists() else "not found"
        raise ManifestError(f"Knowledge base {path} {what}; give a .yaml, .csv or .md file "
                            f"(or a built-in: {', '.join(BUILTIN)}).")
    size = path.stat().st_size
    if size > MAX_KB_BYTES:
        raise ManifestError(f"{path} is {size / 1e6:.1f} MB; a knowledge base can be at most {MAX_KB_BYTES / 1e6:.0f} MB "
                            "(tens of thousands of questions take many minutes to load and embed); split it by topic.")
    suffix = path.suffix.lower()
    try:
        if suffix in (".yaml", ".yml"):
            kb = _load_yaml(path)
        elif suffix == ".csv":
            kb = _load_csv(path)
        elif suffix in (".md", ".markdown"):
            kb = _load_markdown(path)
        else:
            raise ManifestError(f"{path}: unknown knowledge-base format; use .yaml, .csv or .md.")
    except UnicodeDecodeError as exc:  # (was 'unexpected UnicodeDecodeError', exit 70)
        raise ManifestError(f"{path}: not UTF-8 text (byte {exc.start}); save the knowledge base as UTF-8.") from None
    if not kb.entries:
        raise ManifestError(f"{path}: the knowledge base has no entries; add at least one question and answer.")
    seen: dict[str, int] = {}
    for e in kb.entries:
        if e.id in seen:
            raise ManifestError(f"{path} line {e.line}: entry id '{e.id}' is used twice (first on line {seen[e.id]}).")
        seen[e.id] = e.line
    return kb


# ------------------------------------------------------------------------------ YAML
def _load_yaml(path: Path) -> KnowledgeBase:
    import yaml

    text = path.read_text(encoding="utf-8-sig")
    try:
        root, data = load_yaml_checked(text, str(path), ManifestError)
        if root is None:
            raise ManifestError(f"{path}: the file is empty; add an 'entries:' list.")
    except yaml.YAMLError as exc:  # bad syntax, an undefined alias, a tag such as !!python/object
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ManifestError(f"{path}{where}: not valid YAML ({problem}).") from None
    except RecursionError:
        raise ManifestError(f"{path}: nested too deeply to be a knowledge base; "
                            "entries hold questions, answers and titles.") from None
    if isinstance(data, list):  # a bare list of entries
        data, entry_nodes = {"entries": data}, root.value
    elif isinstance(data, dict):
        entry_nodes = next((v.value for k, v in root.value if k.value == "entries"), None)
    else:
        raise ManifestError(f"{path} line 1: expected a mapping with an 'entries:' list.")
    raw_entries = data.get("entries")
    if not isinstance(raw_entries, list) or entry_nodes is None:
        raise ManifestError(f"{path}: no 'entries:' list; each entry needs questions and an answer.")
    entries = []
    for raw, node in zip(raw_entries, entry_nodes):
        entries.append(_entry(raw, node.start_mark.line + 1, path))
    prompts = {k: _by_language(data[k], f"{path}: '{k}'") for k in DEFAULT_PROMPTS
               if k in data}
    return KnowledgeBase(str(data.get("name") or path.stem), tuple(entries), prompts, str(path))


def _by_language(value, where: str, *, many: bool = False) -> dict:
    """{lang: text} (or {lang: (texts,)}) from a string, a list, or a mapping by language."""
    if isinstance(value, str):
        value = [value] if many else value
    if isinstance(value, list):
        groups: dict[str, list[str]] = {}
        for item in value:
            if not isinstance(item, str) or not item.strip():
                raise ManifestError(f"{where}: every question must be non-empty text.")
            groups.setdefault(text_language(item), []).append(item.strip())
        return {k: tuple(v) for k, v in groups.items()} if many else {k: v[0] for k, v in groups.items()}
    if isinstance(value, str):
        return {text_language(value): value.strip()}
    if isinstance(value, dict) and value:
        out = {}
        for lang, v in value.items():
            if many:
                items = [v] if isinstance(v, str) else v
                if not isinstance(items, list) or not all(isinstance(x, str) and x.strip() for x in items):
                    raise ManifestError(f"{where}: questions in '{lang}' must be a list of non-empty texts.")
                out[str(lang)] = tuple(x.strip() for x in items)
            else:
                if not isinstance(v, str) or not v.strip():
                    raise ManifestError(f"{where}: the '{lang}' text must be non-empty.")
                out[str(lang)] = v.strip()
        return out
    raise ManifestError(f"{where}: expected text, a list, or texts by language (en:, zh:).")


def _entry(raw, line: int, path: Path) -> Entry:
    where = f"{path} line {line}"
    if not isinstance(raw, dict):
        raise ManifestError(f"{where}: each entry must be a mapping with questions and an answer.")
    entry_id = str(raw.get("id") or f"entry{line}")
    if "questions" not in raw and "question" not in raw:
        raise ManifestError(f"{where}: entry '{entry_id}' has no questions.")
    if "answer" not in raw:
        raise ManifestError(f"{where}: entry '{entry_id}' has no answer.")
    questions = _by_language(raw.get("questions", raw.get("question")), where, many=True)
    answer = _by_language(raw["answer"], where)
    title = _by_language(raw["title"], where) if raw.get("title") else {}
    follow_ups = []
    for k, fu in enumerate(raw.get("follow_ups") or []):
        if not isinstance(fu, dict) or "questions" not in fu or "answer" not in fu:
            raise ManifestError(f"{where}: follow-up {k + 1} of '{entry_id}' needs questions and an answer.")
        follow_ups.append(FollowUp(_by_language(fu["questions"], where, many=True), _by_language(fu["answer"], where)))
    intent = raw.get("intent")
    if intent is not None and intent not in ("handoff",):
        raise ManifestError(f"{where}: unknown intent '{intent}' in '{entry_id}'; the known intent is 'handoff'.")
    slots = _slots(raw.get("slots"), where, entry_id)
    names = {s.name: s for s in slots}
    for text in [*answer.values(), *(t for fu in follow_ups for t in fu.answer.values())]:
        for name in _PLACEHOLDER.findall(text):
            if name not in names:
                raise ManifestError(f"{where}: an answer of '{entry_id}' uses {{{name}}} but the entry has no "
                                    f"slot '{name}'; add it under slots: or remove the braces.")
            if not names[name].default:
                raise ManifestError(f"{where}: an answer of '{entry_id}' uses {{{name}}}, so slot '{name}' needs "
                                    f"a default: (what to say when the caller has not named one).")
    return Entry(entry_id, questions, answer, title, tuple(follow_ups), intent, line, slots)


def _slots(raw, where: str, entry_id: str) -> tuple[Slot, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise ManifestError(f"{where}: slots of '{entry_id}' must be a mapping of slot names to values: lists.")
    out = []
    for name, spec in raw.items():
        here = f"{where}: slot '{name}' of '{entry_id}'"
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(name)):
            raise ManifestError(f"{here}: a slot name must be letters, digits and underscores.")
        if not isinstance(spec, dict) or not isinstance(spec.get("values"), list) or not spec["values"]:
            raise ManifestError(f"{here} needs a non-empty values: list (each value: forms by language).")
        values = []
        for v in spec["values"]:
            forms = _by_language(v, here, many=True)
            values.append({lang: tuple(f for f in fs if f) for lang, fs in forms.items()})
        default = _by_language(spec["default"], here) if spec.get("default") else {}
        ask = _by_language(spec["ask"], here) if spec.get("ask") else {}
        out.append(Slot(str(name), tuple(values), default, ask))
    return tuple(out)


# ------------------------------------------------------------------------------ CSV
def _load_csv(path: Path) -> KnowledgeBase:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        try:
            return _csv_entries(path, reader)
        except csv.Error as exc:  # a field over the csv module's limit (131,072 characters), a stray quote
            raise ManifestError(f"{path} line {reader.line_num}: not readable as CSV ({exc}); "
                                "shorten the field or use YAML.") from None


def _csv_entries(path: Path, reader) -> KnowledgeBase:
    cols = reader.fieldnames or []
    if not any(c.startswith("question") for c in cols) or not any(c.startswith("answer") for c in cols):
        raise ManifestError(f"{path} line 1: the header needs question(_<lang>) and answer(_<lang>) columns.")
    entries = []
    for n, row in enumerate(reader, 2):
        where = f"{path} line {n}"
        questions: dict[str, tuple[str, ...]] = {}
        answer: dict[str, str] = {}
        title: dict[str, str] = {}
        for col, val in row.items():
            if not col or val is None or not val.strip():
                continue
            base, _, lang = col.partition("_")
            if base == "question":
                for q in val.split("|"):
                    if q.strip():
                        ql = lang or text_language(q)
                        questions[ql] = questions.get(ql, ()) + (q.strip(),)
            elif base == "answer":
                answer[lang or text_language(val)] = val.strip()
            elif base == "title":
                title[lang or text_language(val)] = val.strip()
        if not questions or not answer:
            raise ManifestError(f"{where}: a row needs at least one question and one answer.")
        intent = (row.get("intent") or "").strip() or None
        if intent not in (None, "handoff"):
            raise ManifestError(f"{where}: unknown intent '{intent}'; the known intent is 'handoff'.")
        entries.append(Entry(str(row.get("id") or f"row{n}"), questions, answer, title, (), intent, n))
    return KnowledgeBase(path.stem, tuple(entries), {}, str(path))


# ------------------------------------------------------------------------------ Markdown
_Q = re.compile(r"^\s*(?:[-*]\s*)?(?:Q|问)\s*[:：]\s*(.+)$", re.I)
_A = re.compile(r"^\s*(?:[-*]\s*)?(?:A|答)\s*[:：]\s*(.+)$", re.I)


def _load_markdown(path: Path) -> KnowledgeBase:
    entries = []
    current: dict | None = None

    def close():
        if current is None:
            return
        if not current["q"] or not current["a"]:
            raise ManifestError(f"{path} line {current['line']}: entry '{current['id']}' needs Q: and A: lines.")
        entries.append(Entry(current["id"], {k: tuple(v) for k, v in current["q"].items()}, current["a"], {}, (),
                             current.get("intent"), current["line"]))

    for n, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
        if line.startswith("## "):
            close()
            heading = line[3:].strip()
            intent = "handoff" if heading.endswith("[handoff]") else None
            current = {"id": heading.replace("[handoff]", "").strip() or f"entry{n}", "q": {}, "a": {}, "line": n,
                       "intent": intent}
        elif (m := _Q.match(line)) and current is not None:
            q = m.group(1).strip()
            current["q"].setdefault(text_language(q), []).append(q)
        elif (m := _A.match(line)) and current is not None:
            a = m.group(1).strip()
            current["a"][text_language(a)] = a
        elif (_Q.match(line) or _A.match(line)) and current is None:
            raise ManifestError(f"{path} line {n}: a question or answer before the first '## ' entry heading.")
    close()
    return KnowledgeBase(path.stem, tuple(entries), {}, str(path))
