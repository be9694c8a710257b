"""Tuning driver for align's robustness figures (the second pass's threshold was chosen with it).

    TINGSHUO_DEV_DATA=... python bench/align_tune.py en-tune,en-tune2,en-cathy2,en-tunemix,zh-tune 3,4,5 \
        chapter,synthetic NAME [--out DIR]
    ALIGN_OPTIONS='{"recover": false}' python bench/align_tune.py ...        # the first pass alone

Runs ``bench/align.py``'s robustness edits (the given seeds) on the given splits in one process,
with the recognition pass cached per audio file (the edits change only the text), so that a
change after recognition can be compared quickly. Writes DIR/NAME.json: each set's metrics
(``robust_metrics``, plus inserted words timed), the said words left without a time (with
context and the unaligned span holding them), and every unit the second pass tried with its
probability, duration, speech and label (said / inserted / preface). Tune splits only: the
report splits are for ``bench/align.py`` once a method is frozen. The synthetic chapters are
built once in DIR/work (Piper's output differs from one synthesis to the next).
"""
import _benchpath  # noqa: F401  (first: keeps bench/inspect.py from shadowing the stdlib)

import sys
OUT = sys.argv[sys.argv.index("--out") + 1] if "--out" in sys.argv else "/tmp/align-tune"
import hashlib, json, os, pickle, sys, time
from pathlib import Path
import align as B
import tingshuo.align.aligner as A
_orig = A.listen
DIR = Path(OUT) / 'heard'
DIR.mkdir(parents=True, exist_ok=True)
def listen(engine, source, language, **kw):
    st = os.stat(source)
    key = hashlib.md5(f'{os.path.abspath(source)}|{st.st_size}|{st.st_mtime}|{language}|{kw.get("beam_size")}'.encode()).hexdigest()
    f = DIR / f'{key}.pkl'
    if f.exists():
        return pickle.load(open(f, 'rb'))
    h = _orig(engine, source, language, **kw)
    pickle.dump(h, open(f, 'wb'))
    return h
A.listen = listen
CANDS = []
_acc = A.accepted
def accepted(c, t, silent, heard, th):
    import tingshuo.align.recover as R
    ok = _acc(c, t, silent, heard, th)
    if t is not None:
        lo, hi = max(t[0], c.t_lo - 0.05), min(t[1], c.t_hi + 0.05)
        CANDS.append(dict(unit=c.unit, p=t[2], dur=t[1]-t[0], sp=R.speech_s(silent, heard, lo, hi),
                          vad=heard.speech_s(lo, hi), gap=c.gap_speech_s, exp=c.expected_s, whole=c.whole, ok=ok, single=(c.run[1]-c.run[0]>=2 and not c.whole),
                          t0=t[0], t1=t[1], t_lo=c.t_lo, t_hi=c.t_hi))
    return ok
A.accepted = accepted
from tingshuo.align import Aligner
from tingshuo.align.base import AlignOptions
from tingshuo.align.text import units

work = Path(OUT) / 'work'
work.mkdir(parents=True, exist_ok=True)
splits = sys.argv[1].split(',')
seeds = [int(x) for x in sys.argv[2].split(',')]
kinds = sys.argv[3].split(',')
outname = sys.argv[4]
opts = json.loads(os.environ.get('ALIGN_OPTIONS', '{}'))
aligner = Aligner(AlignOptions(**opts))
res, misses, allc = {}, [], []
for name in splits:
    lang = name.split('-')[0]
    if not B.is_tune(name):
        sys.exit(f"{name} is a report split: tune on tune splits only (bench/align.py reports)")
    preface = B.preface_for(name)
    for kind in kinds:
        if kind == 'chapter':
            meta = B.build_chapter(B.split_rows(name), work / f"chapter-{name}", seed=B._seed(name))
        else:
            meta = B.synth_chapter(name, work / f"synth-{name}")
        wav = work / (f"chapter-{name}.wav" if kind == "chapter" else f"synth-{name}.wav")
        for seed in seeds:
            tag = f"{kind}-{name}-s{seed}"
            text, planted = B.robust_text(meta["text"], lang, seed=seed, preface=preface)
            t0 = time.time()
            CANDS.clear()
            r = aligner.align(str(wav), text, language=lang)
            wall = time.time() - t0
            d = {"words": [{"text": w.text, "start_s": w.start_s, "end_s": w.end_s, "offset": w.offset, "score": w.score} for w in r.words],
                 "unaligned": [dict(u.to_dict(), offset=u.offset) for u in r.unaligned]}
            m = B.robust_metrics(meta, text, planted, d, lang, kind, name)
            m['wall_s'] = round(wall, 1)
            # inserted words that got aligned (false) and misses with context
            shift = B._digit_shift(planted['before_digits'], text)
            ins_new = [(shift(a), shift(b)) for a, b in planted['inserted']]
            pre_end = shift(planted['preface'][1])
            tu = units(text, lang)
            timed = {w['offset'] for w in d['words']}
            m['inserted_aligned'] = sum(any(a <= u.core_start < b for a, b in ins_new) and u.core_start in timed for u in tu)
            m['preface_units_aligned'] = sum(u.core_start < pre_end and u.core_start in timed for u in tu)
            for k, u in enumerate(tu):
                if u.core_start < pre_end or any(a <= u.core_start < b for a, b in ins_new) or u.core_start in timed:
                    continue
                ctx = text[tu[max(0, k-4)].core_start:tu[min(len(tu)-1, k+4)].core_end].replace('\n', ' / ')
                span = [x for x in d['unaligned'] if x['kind'] == 'text' and x['offset'] <= u.core_start < x['offset'] + len(x['text'])]
                misses.append({'tag': tag, 'word': text[u.core_start:u.core_end], 'offset': u.core_start, 'ctx': ctx,
                               'span': span[0]['text'] if span else None,
                               'span_s': (span[0]['start_s'], span[0]['end_s']) if span else None})
            res[tag] = m
            tu_by = {u.core_start: k for k, u in enumerate(tu)}
            for c in CANDS:
                u = tu[c['unit']]
                c['tag'] = tag; c['word'] = text[u.core_start:u.core_end]
                c['label'] = 'preface' if u.core_start < pre_end else 'ins' if any(a <= u.core_start < b for a, b in ins_new) else 'said'
                c['base_timed'] = False
                allc.append(c)
            print(tag, json.dumps(m), flush=True)
            Path(OUT, f'{outname}.{tag}.json').write_text(json.dumps({'result': d, 'text': text, 'planted': planted}, ensure_ascii=False))
Path(OUT, f'{outname}.json').write_text(json.dumps({'metrics': res, 'misses': misses, 'cands': allc}, ensure_ascii=False, indent=1,
                                                    default=lambda o: o.item() if hasattr(o, 'item') else str(o)))
