"""Typed-question benchmark of the knowledge-base brain on held-out knowledge bases (issue 15).

    python bench/kb.py [--kb telecom --kb shop ...] [--brain ours|previous|both] [--homophones | --near-sounds] [--out bench/results/kb.json]

Data: bench/data/kb/<name>.yaml (knowledge bases written for this benchmark in other domains:
shop, hospital, power, telecom, university, rail, ...) and <name>.questions.yaml (caller questions
written before any tuning; bench/check_questions.py checks their rules); 'bank' is the bundled
bank KB with bank.questions.yaml. ``split`` in each questions file says whether the brain was
tuned on it (telecom, university, rail: the tune set) or not (shop, hospital, power, bank: the
report set, reported on several times since; airline, broadband, insurance: report2, written in
round 4 before its tuning and run once with its final brain; library, carrental: report3, written in
round 5 before its tuning; hotel, fooddelivery: report4, written in round 6 before its tuning); each
split is pooled in the summary.

Per knowledge base and brain:
  * in_domain: the caller questions, each in a fresh call: ``right`` = answered from the expected
    entry (a handoff entry, or a slot question for it, counts), ``clarified``, ``declined``
    (said it is out of scope), ``wrong`` (another entry's answer); per language too;
  * follow_ups: calls of two or more turns; a follow-up turn is right when the expected
    follow-up of the expected entry answers it, a new-topic turn when its entry does;
  * out_of_domain: questions the KB does not cover: ``declined`` = said out of scope (source
    out_of_scope), ``not_answered`` = any reply that is not an entry's answer (a clarifying
    question counts here; the previous brain could only clarify), ``answered`` = an entry's answer;
  * brain_ms: wall time for the brain's whole decision per turn (its first token: the KB brain
    yields the answer in one piece), median and p90, on this machine; brain_cpu_ms: the CPU time
    the process used for it (all threads: an upper bound on the wall time on idle cores when the
    engine uses one), which a shared machine's load inflates much less.
The peer is the previous release of the brain (bench/kb_previous.py), on the same embedder.
"""

from __future__ import annotations

import _benchpath  # noqa: F401  (first: keeps bench/inspect.py from shadowing the stdlib)

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT / "bench" / "data" / "kb"
ANSWERED = ("kb", "kb-slot", "kb-follow-up")
CPU_MS: list[float] = []


def load_set(name: str) -> dict:
    spec = yaml.safe_load((DATA / f"{name}.questions.yaml").read_text(encoding="utf-8"))
    spec["kb_path"] = "bank" if spec["kb"] == "bank" else str(DATA / spec["kb"])
    spec["name"] = name
    return spec


def tune_names() -> list[str]:
    """The question sets of the tune split (the only ones the calibration and training scripts may read)."""
    return sorted(p.name.removesuffix(".questions.yaml") for p in DATA.glob("*.questions.yaml")
                  if load_set(p.name.removesuffix(".questions.yaml"))["split"] == "tune")


def saved_rows(path: str) -> list:
    """The rows an earlier calibration/training run saved (its --out), for --rows."""
    return json.loads(Path(path).read_text(encoding="utf-8"))["rows"]


def with_homophones(spec: dict, near: bool = False) -> dict:
    """The question set with simulated Mandarin recognition errors (``--homophones``): in each Chinese
    in-domain question and conversation turn, the first character that carries meaning and also appears in
    the expected entry's own text is replaced by the most frequent other character with the same toneless
    pinyin (jieba's dictionary frequencies), as a recogniser that heard the sound right but chose the
    wrong character would write it. Questions with no such character stay as they are."""
    from tingshuo.dialogue.kb import load_kb, text_language
    from tingshuo.dialogue.match import ZH_STOP

    kb = load_kb(spec["kb_path"])
    own = {e.id: "".join([*[q for qs in e.questions.values() for q in qs], *e.title.values(), *e.answer.values()])
           for e in kb.entries}
    swap = _homophone_table(near)

    def perturb(entry: str, text: str) -> str:
        if text_language(text) != "zh":
            return text
        for i, ch in enumerate(text):
            if ch in swap and ch not in ZH_STOP and ch in own.get(entry, ""):
                return text[:i] + swap[ch] + text[i + 1:]
        return text

    out = dict(spec)
    out["questions"] = [[e, perturb(e, t)] for e, t in spec["questions"]]
    out["conversations"] = [[[t[0], perturb(t[0], t[1]), *t[2:]] for t in call] for call in spec.get("conversations") or []]
    return out


def _homophone_table(near: bool = False) -> dict[str, str]:
    """character -> the most frequent other character with the same toneless pinyin (jieba's dictionary); with
    ``near``, with a near-miss sound instead (zh/z, ch/c, sh/s, l/n, in/ing, en/eng blurred, the sound not the same:
    是 -> 四, 星 -> 心)."""
    import os

    import jieba
    from tingshuo.search.text import pinyin

    freq: dict[str, int] = {}
    with open(os.path.join(os.path.dirname(jieba.__file__), "dict.txt"), encoding="utf-8") as f:
        for line in f:
            word, count, *_ = line.split()
            if len(word) == 1 and "\u4e00" <= word <= "\u9fff" and int(count) >= 1000:  # common characters
                freq[word] = int(count)
    if near:
        from tingshuo.dialogue.match import _fuzzy

        by_key: dict[str, list[str]] = {}
        for ch in sorted(freq, key=lambda c: -freq[c]):
            by_key.setdefault(_fuzzy(pinyin(ch)), []).append(ch)
        out = {}
        for chars in by_key.values():
            for ch in chars:
                other = next((c for c in chars if pinyin(c) != pinyin(ch)), None)
                if other:
                    out[ch] = other
        return out
    by_sound: dict[str, list[str]] = {}
    for ch in sorted(freq, key=lambda c: -freq[c]):
        by_sound.setdefault(pinyin(ch), []).append(ch)
    return {ch: next(c for c in chars if c != ch) for chars in by_sound.values() if len(chars) > 1 for ch in chars}


def make_brain(which: str, kb_path: str, embedder):
    if which == "previous":
        import kb_previous

        return kb_previous.KBBrain(kb_path, embedder=embedder)
    from tingshuo.dialogue.brains.kb import KBBrain

    return KBBrain(kb_path, embedder=embedder)


def ask(brain, conv, text: str) -> tuple[dict, float]:
    from tingshuo.dialogue.kb import text_language

    lang = text_language(text)
    conv.add("user", text, lang)
    t0, c0 = time.perf_counter(), time.process_time()
    answer, info = brain.decide(conv, text, lang)
    ms = (time.perf_counter() - t0) * 1000
    CPU_MS.append((time.process_time() - c0) * 1000)
    meta = info.to_dict()
    conv.add("assistant", answer, info.language, meta=meta)
    return meta | {"answer": answer}, ms


def outcome(meta: dict, entry: str) -> str:
    source = meta.get("source")
    if source in ANSWERED:
        return "right" if meta.get("entry") == entry else "wrong"
    if source == "clarify":
        return "clarified"
    if source in ("out_of_scope",):
        return "declined"
    return "other"


def run_set(brain, spec: dict) -> dict:
    from tingshuo.dialogue.context import Conversation
    from tingshuo.dialogue.kb import text_language

    times: list[float] = []
    CPU_MS.clear()
    rows = []
    for entry, text in spec["questions"]:
        meta, ms = ask(brain, Conversation(), text)
        times.append(ms)
        rows.append({"q": text, "lang": text_language(text), "expected": entry, "got": meta.get("entry"),
                     "source": meta.get("source"), "outcome": outcome(meta, entry),
                     "candidates": meta.get("candidates"), "confidence": meta.get("confidence")})
    fu_rows = []
    for call in spec.get("conversations") or []:
        conv = Conversation()
        for turn in call:
            entry, text, *fu = turn
            meta, ms = ask(brain, conv, text)
            times.append(ms)
            want = fu[0] if fu else None
            ok = (meta.get("source") in ANSWERED and meta.get("entry") == entry and meta.get("follow_up") == want)
            fu_rows.append({"q": text, "expected": entry, "follow_up": want, "got": meta.get("entry"),
                            "got_follow_up": meta.get("follow_up"), "source": meta.get("source"), "right": ok})
    ood_rows = []
    for text in spec.get("out_of_domain") or []:
        meta, ms = ask(brain, Conversation(), text)
        times.append(ms)
        ood_rows.append({"q": text, "lang": text_language(text), "source": meta.get("source"), "got": meta.get("entry")})
    return {"in_domain": _in_domain(rows), "follow_ups": _follow_ups(fu_rows), "out_of_domain": _ood(ood_rows),
            "brain_ms": _stats(times), "brain_cpu_ms": _stats(list(CPU_MS)), "rows": rows, "follow_up_rows": fu_rows, "ood_rows": ood_rows}


def _rate(rows, key, value) -> float:
    return round(sum(r[key] == value for r in rows) / max(1, len(rows)), 3)


def _in_domain(rows: list[dict]) -> dict:
    out = {"n": len(rows)}
    for k in ("right", "clarified", "declined", "wrong"):
        out[k] = _rate(rows, "outcome", k)
    for lang in ("en", "zh"):
        out[f"right_{lang}"] = _rate([r for r in rows if r["lang"] == lang], "outcome", "right")
    return out


def _follow_ups(rows: list[dict]) -> dict:
    fu = [r for r in rows if r["follow_up"] is not None]
    return {"turns": len(rows), "right": round(sum(r["right"] for r in rows) / max(1, len(rows)), 3),
            "follow_up_turns": len(fu), "follow_up_right": round(sum(r["right"] for r in fu) / max(1, len(fu)), 3)}


def _ood(rows: list[dict]) -> dict:
    return {"n": len(rows), "declined": _rate(rows, "source", "out_of_scope"),
            "not_answered": round(sum(r["source"] not in ANSWERED for r in rows) / max(1, len(rows)), 3),
            "answered": round(sum(r["source"] in ANSWERED for r in rows) / max(1, len(rows)), 3)}


def _stats(values: list[float]) -> dict:
    v = sorted(values)
    return {"median": round(statistics.median(v), 1), "p90": round(v[min(len(v) - 1, int(0.9 * len(v)))], 1),
            "max": round(v[-1], 1), "n": len(v)} if v else {}


def pooled(results: dict, names: list[str], brain: str) -> dict:
    """The report-set figures pooled over several knowledge bases (micro-averaged)."""
    rows = [r for n in names for r in results[n][brain]["rows"]]
    ood = [r for n in names for r in results[n][brain]["ood_rows"]]
    fu = [r for n in names for r in results[n][brain]["follow_up_rows"]]
    return {"kbs": names, "in_domain": _in_domain(rows), "out_of_domain": _ood(ood), "follow_ups": _follow_ups(fu)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kb", action="append", help="a question set name (default: all in bench/data/kb)")
    ap.add_argument("--brain", default="both", choices=("ours", "previous", "both"))
    ap.add_argument("--out", default="bench/results/kb.json")
    ap.add_argument("--errors", action="store_true", help="print every turn that was not right (stderr)")
    ap.add_argument("--homophones", action="store_true",
                    help="simulate Mandarin recognition errors: in each Chinese caller question, one character it "
                         "shares with its entry is replaced by its most frequent homophone (裙子 -> 群子)")
    ap.add_argument("--near-sounds", action="store_true",
                    help="like --homophones, but the character is replaced by one with a near-miss sound (zh/z, "
                         "ch/c, sh/s, l/n, in/ing, en/eng: 是 -> 四)")
    args = ap.parse_args()
    names = args.kb or sorted(p.name.removesuffix(".questions.yaml") for p in DATA.glob("*.questions.yaml"))
    brains = ["ours", "previous"] if args.brain == "both" else [args.brain]

    from tingshuo.search.embed import load_embedder

    embedder = load_embedder()
    results: dict = {}
    for name in names:
        spec = load_set(name)
        if args.homophones or args.near_sounds:
            spec = with_homophones(spec, near=args.near_sounds)
        results[name] = {"split": spec["split"], "kb": spec["kb"]}
        for which in brains:
            t0 = time.perf_counter()
            brain = make_brain(which, spec["kb_path"], embedder)
            build_s = time.perf_counter() - t0
            results[name][which] = run_set(brain, spec) | {"index_build_s": round(build_s, 2)}
            if args.errors:
                _print_errors(name, which, results[name][which])
    summary: dict = {"note": "typed caller questions; 'tune' figures come from the set the brain was calibrated on",
                     "per_kb": {}}
    for name in names:
        summary["per_kb"][name] = {"split": results[name]["split"]} | {
            which: {k: results[name][which].get(k) for k in ("in_domain", "follow_ups", "out_of_domain", "brain_ms",
                                                               "brain_cpu_ms")}
            for which in brains}
    for split in ("report", "report2", "report3", "report4", "tune"):
        members = [n for n in names if results[n]["split"] == split]
        if members:
            summary[f"{split}_pooled"] = {which: pooled(results, members, which) for which in brains}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(summary | {"details": results}, ensure_ascii=False, indent=1) + "\n",
                              encoding="utf-8")
    print(json.dumps(summary, ensure_ascii=False, indent=1))
    return 0


def _print_errors(name: str, which: str, res: dict) -> None:
    for r in res["rows"]:
        if r["outcome"] != "right":
            print(f"[{name}/{which}] {r['outcome']:9s} {r['q']}  want {r['expected']} got {r['got']} "
                  f"({r['source']} {r['confidence']} {r['candidates'] or ''})", file=sys.stderr)
    for r in res["follow_up_rows"]:
        if not r["right"]:
            print(f"[{name}/{which}] follow-up {r['q']}  want {r['expected']}/{r['follow_up']} got "
                  f"{r['got']}/{r['got_follow_up']} ({r['source']})", file=sys.stderr)
    for r in res["ood_rows"]:
        if r["source"] != "out_of_scope":
            print(f"[{name}/{which}] ood       {r['q']}  got {r['source']} {r['got']}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
