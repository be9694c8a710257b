"""Check the held-out caller questions against the rules they were written to (bench/data/kb/).

    python bench/check_questions.py [bench/data/kb/*.questions.yaml]

Rules (issue 15): per entry and language, at least 2 paraphrased questions, each sharing at most
one content word with the entry's listed questions (the follow-up's listed questions for a
follow-up turn); 10 out-of-domain questions per language; every entry named exists.
Content words are independent of the brain on purpose: English words lower-cased, a final 's'
dropped, a fixed stop-word list removed; Chinese segmented by jieba, stop words and punctuation
removed. Prints one line per violation and exits 1 if there is any.
"""

from __future__ import annotations

import _benchpath  # noqa: F401

import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EN_STOP = set("""a an the i me my mine we our you your he she it its they them their this that these those is are was
were be been being am do does did doing have has had having can could will would shall should may might must
to of in on at for from with by about as into onto up down out off over under again then there here when
where why how what which who whom whose and or but if so not no yes just than too very s t don't can't won't
i'm i'd i've it's that's what's there's let please any some all more most much many one get got also still
like want need would like ok okay now yet""".split())
ZH_STOP = set("我 你 您 他 她 它 我们 你们 的 了 吗 呢 吧 啊 呀 么 是 在 有 和 跟 与 就 都 也 还 要 想 能 可以 会 "
              "怎么 怎么办 什么 哪 哪里 哪儿 多少 几 个 一 一下 这 那 这个 那个 给 把 被 让 对 到 去 来 上 下 "
              "吗 嘛 没 没有 不 请 帮 帮我 现在 已经 一直 又 再 该 需要 如何 为什么 怎样 么".split())


def content_words(text: str, lang: str) -> set[str]:
    if lang == "zh":
        import jieba

        words = [w.strip() for w in jieba.lcut(text)]
        return {w for w in words if w and re.search(r"[\u4e00-\u9fffA-Za-z0-9]", w) and w not in ZH_STOP}
    words = re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text.lower())
    out = set()
    for w in words:
        if w in EN_STOP:
            continue
        if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
            w = w[:-1]
        out.add(w)
    return out


def check(path: Path) -> list[str]:
    from tingshuo.dialogue.kb import load_kb, text_language

    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    kb_ref = spec["kb"]
    kb = load_kb(kb_ref if kb_ref == "bank" else path.parent / kb_ref)
    entries = {e.id: e for e in kb.entries}
    problems = []
    counts: dict[tuple[str, str], int] = {}

    def rule(entry_id: str, text: str, listed: tuple[str, ...], where: str) -> None:
        lang = text_language(text)
        mine = content_words(text, lang)
        shared = set()
        for q in listed:
            shared |= mine & content_words(q, lang)
        if len(shared) > 1:
            problems.append(f"{path.name}: {where} '{text}' shares {sorted(shared)} with {entry_id}'s questions")

    for entry_id, text in spec["questions"]:
        if entry_id not in entries:
            problems.append(f"{path.name}: unknown entry {entry_id}")
            continue
        lang = text_language(text)
        counts[(entry_id, lang)] = counts.get((entry_id, lang), 0) + 1
        rule(entry_id, text, entries[entry_id].questions.get(lang, ()), "question")
    for e in kb.entries:
        for lang in ("en", "zh"):
            if counts.get((e.id, lang), 0) < 2:
                problems.append(f"{path.name}: entry {e.id} has {counts.get((e.id, lang), 0)} {lang} questions (need 2)")
    for conv in spec.get("conversations") or []:
        for turn in conv:
            entry_id, text, *fu = turn
            if entry_id not in entries:
                problems.append(f"{path.name}: unknown entry {entry_id}")
                continue
            lang = text_language(text)
            if fu:
                follow_ups = entries[entry_id].follow_ups
                if fu[0] >= len(follow_ups):
                    problems.append(f"{path.name}: {entry_id} has no follow-up {fu[0]}")
                    continue
                rule(entry_id, text, follow_ups[fu[0]].questions.get(lang, ()), "follow-up")
            else:
                rule(entry_id, text, entries[entry_id].questions.get(lang, ()), "conversation turn")
    ood = spec.get("out_of_domain") or []
    for lang in ("en", "zh"):
        n = sum(text_language(t) == lang for t in ood)
        if n < 10:
            problems.append(f"{path.name}: {n} out-of-domain questions in {lang} (need 10)")
    return problems


def main(argv: list[str]) -> int:
    paths = [Path(p) for p in argv] or sorted((ROOT / "bench" / "data" / "kb").glob("*.questions.yaml"))
    problems = [p for path in paths for p in check(path)]
    for p in problems:
        print(p)
    print(f"{len(paths)} question files checked, {len(problems)} problems", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
