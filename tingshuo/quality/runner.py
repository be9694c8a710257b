"""One pass over a dataset: signal checks in worker processes, transcript checks on a batched
recogniser, duplicates through the store, grades from the profile.

    >>> from tingshuo.quality import Clip, inspect_clips
    >>> results = inspect_clips([Clip("a.wav", "hello", "en")])       # doctest: +SKIP
    >>> results[0].grade, results[0].reasons                          # doctest: +SKIP

Every stage writes to the store as it goes (see ``store.py``), so an interrupted run resumes
where it stopped and a grown dataset costs only its new files.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

from .base import ClipResult, Finding, InspectOptions
from .grade import Profile, grade_of, load_profile

VERSION = "2"  # bump when a signal check changes what it measures
ASR_BEAM = 1  # greedy decoding: the transcript checks need a rough hypothesis, fast


@dataclass(frozen=True)
class Item:
    pos: int
    audio: str
    text: str | None = None
    lang: str | None = None
    id: str | None = None
    record: Any = None  # the manifest Record, for writing keep/review/drop back in its format


@dataclass
class Stats:
    n_clips: int = 0
    signal_computed: int = 0
    signal_cached: int = 0
    asr_computed: int = 0
    asr_cached: int = 0
    audio_s: float = 0.0
    wall_s: dict = field(default_factory=dict)
    groups: list = field(default_factory=list)  # duplicate groups: {"kind", "members": [audio...]}

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("n_clips", "signal_computed", "signal_cached", "asr_computed",
                                              "asr_cached", "audio_s", "wall_s")}


# ------------------------------------------------------------------------------ worker side

def _worker_init() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def measure_file(path: str, dnsmos_on: bool) -> tuple:
    """(signal metrics, pcm hash, fingerprint words, loud mask, weak-bit masks) of one file."""
    from .checks import ClipAudio, measure_signal
    from .dedupe import fingerprint, pcm_hash
    from ..errors import TingshuoError

    clip = ClipAudio.load(path)
    try:
        metrics = measure_signal(clip, dnsmos_on)
    except TingshuoError:
        raise  # e.g. DNSMOS not installed: the whole run needs to stop and say so
    except Exception as exc:  # one odd file must not end a long run; it is reported, not graded high
        return {"readable": 0, "error": f"{path}: could not be analysed ({type(exc).__name__}: {exc})."}, \
            None, None, None, None
    if not clip.ok:
        return metrics, None, None, None, None
    words, loud, weak = fingerprint(clip.samples, with_weak=True)
    return metrics, pcm_hash(clip.samples), words, loud, weak


# ------------------------------------------------------------------------------ the run

class Inspection:
    """Runs the stages over re-iterable items; ``progress`` shows tqdm bars on stderr."""

    def __init__(self, options: InspectOptions | None = None, store_path: str | None = None,
                 progress: bool = False, on_clip: Callable[[Item], None] | None = None) -> None:
        from .store import Store

        self.options = options or InspectOptions()
        self.profile: Profile = load_profile(self.options.profile)
        self.store = Store(store_path or self.options.store or ":memory:")
        self.progress = progress
        self.on_clip = on_clip  # called after each clip's signal metrics are stored (tests use it)
        self.stats = Stats()
        self._keys: dict[int, str | None] = {}
        self._root: dict[int, int] = {}  # position of a duplicate -> position of its group's first clip

    def _bar(self, total: int, desc: str):
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, unit="clip", disable=not self.progress, leave=False,
                    dynamic_ncols=True)

    def key(self, item: Item) -> str | None:
        if item.pos not in self._keys:
            self._keys[item.pos] = self.store.key_for(item.audio)
        return self._keys[item.pos]

    # -------------------------------------------------------------- stage 1: signal
    def run_signal(self, items: Callable[[], Iterable[Item]], total: int) -> None:
        t0 = time.time()
        o = self.options
        todo: dict[str, Item] = {}
        with self._bar(total, "signal checks") as bar:
            pending: dict = {}
            pool = ProcessPoolExecutor(o.n_jobs, initializer=_worker_init,
                                       mp_context=_mp_context()) if o.n_jobs > 1 else None
            try:
                for item in items():
                    key = self.key(item)
                    if key is None or self.store.has_signal(key, VERSION, o.dnsmos) or key in todo:
                        self.stats.signal_cached += key is not None and key not in todo
                        bar.update(1)
                        continue
                    todo[key] = item
                    if pool is None:
                        self._stored(key, item, measure_file(item.audio, o.dnsmos))
                        bar.update(1)
                        continue
                    pending[pool.submit(measure_file, item.audio, o.dnsmos)] = (key, item)
                    if len(pending) >= 4 * o.n_jobs:
                        bar.update(self._collect(pending, FIRST_COMPLETED))
                while pending:
                    bar.update(self._collect(pending, FIRST_COMPLETED))
            finally:
                if pool is not None:
                    pool.shutdown(wait=True, cancel_futures=True)
                self.store.commit()
        self.stats.wall_s["signal"] = round(time.time() - t0, 2)

    def _collect(self, pending: dict, how) -> int:
        done, _ = wait(list(pending), return_when=how)
        for fut in done:
            key, item = pending.pop(fut)
            self._stored(key, item, fut.result())
        return len(done)

    def _stored(self, key: str, item: Item, result) -> None:
        from .dedupe import index_words

        metrics, pcm, words, loud, weak = result
        index = index_words(words, loud, weak) if words is not None else []
        self.store.put_signal(key, VERSION, self.options.dnsmos, metrics, pcm, words, loud, index)
        self.stats.signal_computed += 1
        if self.stats.signal_computed % 16 == 0:
            self.store.commit()
        if self.on_clip:
            self.on_clip(item)

    # -------------------------------------------------------------- stage 2: recogniser
    @property
    def asr_model(self) -> str:
        return self.options.asr_model or "whisper-base"

    def run_asr(self, items: Callable[[], Iterable[Item]]) -> None:
        if not self.options.asr:
            return
        t0 = time.time()
        need: list[tuple[str, Item]] = []
        seen: set[str] = set()
        for item in items():
            if not item.text:
                continue
            key = self.key(item)
            if key is None or key in seen:
                continue
            sig = self.store.signal(key)
            if not sig or not sig[0].get("readable") or (sig[0].get("speech_s") or 0) < 0.15:
                continue
            seen.add(key)
            if self.store.asr(key, self.asr_model) is None:
                need.append((key, item))
            else:
                self.stats.asr_cached += 1
        if need:
            from ..asr.base import TranscribeOptions
            from ..asr.pipeline import Transcriber
            from ..errors import TingshuoError

            tr = Transcriber(self.options.asr_model, TranscribeOptions(beam_size=ASR_BEAM, batch_size=8),
                             cpu_threads=self.options.asr_threads)
            with self._bar(len(need), "transcript checks") as bar:
                for k, (i, out) in enumerate(tr.transcribe_many([it.audio for _, it in need])):
                    key = need[i][0]
                    if isinstance(out, TingshuoError):
                        self.store.put_asr(key, self.asr_model, None, None, 0.0, str(out))
                    else:
                        self.store.put_asr(key, self.asr_model, out.text, out.language,
                                           float(out.language_probability or 0.0))
                    self.stats.asr_computed += 1
                    if k % 16 == 15:
                        self.store.commit()
                    bar.update(1)
            self.store.commit()
        self.stats.wall_s["asr"] = round(time.time() - t0, 2)

    # -------------------------------------------------------------- stage 3: judge
    def judge(self, items: Callable[[], Iterable[Item]], total: int) -> Iterator[tuple[Item, ClipResult]]:
        from .checks import CHECKS, findings_for
        from .consistency import TEXT_CHECKS, TextClip, measure_text
        from .dedupe import index_words, is_near_duplicate, text_key, vote_offsets

        t0 = time.time()
        o, prof = self.options, self.profile
        first_pos: dict[str, int] = {}  # key -> first position in this run
        first_audio: dict[int, str] = {}
        by_pcm: dict[str, int] = {}
        by_text: dict[str, int] = {}
        groups: dict[tuple[str, int], list[str]] = {}
        with self._bar(total, "grading") as bar:
            for item in items():
                bar.update(1)
                key = self.key(item)
                metrics: dict = {}
                findings: list[Finding] = []
                sig = self.store.signal(key) if key else None
                if sig is None:
                    metrics = {"readable": 0, "error": f"{item.audio}: file not found or unreadable."}
                    pcm = None
                else:
                    metrics, pcm = dict(sig[0]), sig[1]
                for name, spec in CHECKS.items():
                    if spec.stage != "signal" or ("dnsmos" in spec.needs and not o.dnsmos):
                        continue
                    findings += findings_for(name, metrics, prof)
                readable = bool(metrics.get("readable"))
                findings = _tidy(findings, metrics)
                if readable:
                    self.stats.audio_s += metrics.get("duration_s") or 0.0
                if readable and metrics.get("end_speech_prob", 0) >= 0.5 and (metrics.get("trailing_silence_s") or 0) < 0.05:
                    findings.append(Finding("silence", "note", "speech runs to the very end of the clip", 1, None))
                # transcript checks
                if item.text and readable:
                    asr = self.store.asr(key, self.asr_model) if o.asr else None
                    tclip = TextClip(item.text, item.lang, asr[0] if asr else None, asr[1] if asr else None,
                                     asr[2] if asr else 0.0, metrics)
                    tm = measure_text(tclip, o.asr)
                    metrics.update(tm)
                    for name in TEXT_CHECKS:
                        for f in findings_for(name, tm, prof):
                            if name == "language":
                                said = item.lang or tm.get("text_language")
                                heard = tm.get("detected_language")
                                f = Finding(f.check, f.severity, f"language mismatch: declared {said}, transcript "
                                            f"looks {tm.get('text_language')}" + (f", speech sounds {heard}" if heard else ""),
                                            f.value, f.threshold)
                            findings.append(f)
                    if o.asr and asr and asr[3]:
                        findings.append(Finding("asr_consistency", "note", f"recogniser failed: {asr[3]}"))
                elif readable and not item.text:
                    findings.append(Finding("transcript", "note", "no transcript: transcript checks skipped"))
                # duplicates
                if o.duplicates and readable and key:
                    dup = self._duplicate(item, key, pcm, first_pos, first_audio, by_pcm, groups,
                                          index_words, is_near_duplicate, vote_offsets)
                    if dup:
                        kind, of, ber = dup
                        metrics.update({"duplicate_audio": 1, "duplicate_kind": kind, "duplicate_of": of})
                        if ber is not None:
                            metrics["duplicate_ber"] = ber
                        findings += [Finding("duplicates", f.severity, f"{kind} duplicate of {of}", 1, f.threshold)
                                     for f in prof.judge("duplicate_audio", 1, "duplicates")]
                    else:
                        metrics["duplicate_audio"] = 0
                    tk = text_key(item.text)
                    if tk is not None:
                        if tk in by_text:
                            of = first_audio[by_text[tk]]
                            metrics.update({"duplicate_text": 1, "duplicate_text_of": of})
                            groups.setdefault(("text", by_text[tk]), [of]).append(item.audio)
                            f = prof.judge("duplicate_text", 1, "duplicates")
                            findings += [Finding("duplicates", x.severity, f"same transcript as {of}", 1, x.threshold)
                                         for x in f] or [Finding("duplicates", "note", f"same transcript as {of}", 1)]
                        else:
                            by_text[tk] = item.pos
                    first_audio.setdefault(item.pos, item.audio)
                first_audio.setdefault(item.pos, item.audio)
                result = ClipResult(audio=item.audio, grade=grade_of(findings), findings=tuple(findings),
                                    metrics=metrics, id=item.id, text=item.text, lang=item.lang, key=key)
                self.stats.n_clips += 1
                yield item, result
        self.stats.groups = [{"kind": k[0], "members": v} for k, v in groups.items()]
        self.stats.wall_s["judge"] = round(time.time() - t0, 2)

    def _duplicate(self, item, key, pcm, first_pos, first_audio, by_pcm, groups,
                   index_words, is_near_duplicate, vote_offsets):
        """('exact'|'near', earlier audio, ber) when an earlier clip of this run has the same audio."""
        root = self._root

        def exact(pos):  # same file content or same decoded PCM as the clip at ``pos``
            p = root.get(pos, pos)
            root[item.pos] = p
            groups.setdefault(("exact", p), [first_audio[p]]).append(item.audio)
            return "exact", first_audio[p], 0.0

        if key in first_pos:
            return exact(first_pos[key])
        first_pos[key] = item.pos
        if pcm is not None:
            if pcm in by_pcm:
                return exact(by_pcm[pcm])
            by_pcm[pcm] = item.pos
        words = self.store.fingerprint(key)
        if words is None or words.size == 0:
            return None
        own = self.store.index_of(key)
        hits = [h for h in self.store.word_hits([w for w, _ in own])
                if h[0] != key and first_pos.get(h[0], item.pos) < item.pos]
        cands = sorted(vote_offsets(own, hits).items(), key=lambda kv: -kv[1][1])[:5]
        for other, (offset, _votes) in cands:
            fp = self.store.fingerprint(other)
            ok, ber = is_near_duplicate(words, fp, offset)
            if ok:
                p = root.get(first_pos[other], first_pos[other])  # the group's first clip
                root[item.pos] = p
                groups.setdefault(("near", p), [first_audio[p]]).append(item.audio)
                return "near", first_audio[p], round(ber, 3)
        return None


def _tidy(findings: list[Finding], metrics: dict) -> list[Finding]:
    """Say an unreadable file's error once; with no speech at all, silence/noise details add nothing."""
    if not metrics.get("readable"):
        return [Finding("readable", "drop", str(metrics.get("error") or "unreadable file"), 0, 1)]
    if any(f.check == "silence" and f.message.startswith("speech ") and f.severity == "drop" for f in findings):
        keep = []
        for f in findings:
            if f.check == "silence" and f.message.startswith("speech ") and f.severity == "drop":
                keep.append(Finding("silence", f.severity, f"no speech found ({f.value:.2f} s of speech)",
                                    f.value, f.threshold))
            elif f.check not in ("silence", "snr", "level"):
                keep.append(f)
        return keep
    return findings


def _mp_context():
    """fork where there is one (fast start; workers build their own ONNX sessions), else spawn."""
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def inspect_items(items: list[Item] | Callable[[], Iterable[Item]], options: InspectOptions | None = None, *,
                  total: int | None = None, store_path: str | None = None, progress: bool = False,
                  on_clip=None) -> tuple[Inspection, Iterator[tuple[Item, ClipResult]]]:
    """Run signal and ASR stages now; return the inspection and a lazy iterator of graded results."""
    factory = items if callable(items) else (lambda: iter(items))
    if total is None:
        total = sum(1 for _ in factory())
    run = Inspection(options, store_path, progress, on_clip)
    run.run_signal(factory, total)
    run.run_asr(factory)
    return run, run.judge(factory, total)


def inspect_clips(clips: Iterable, options: InspectOptions | None = None, **kw) -> list[ClipResult]:
    """Inspect clips (``Clip`` objects, or paths) and return one graded ``ClipResult`` each, in order.

    Duplicates are found within these clips. ``options.store`` (a SQLite path) makes reruns resume.
    """
    from .base import Clip

    items = []
    for i, c in enumerate(clips):
        c = Clip(str(c)) if isinstance(c, (str, os.PathLike)) else c
        items.append(Item(i, str(c.audio), c.text, c.lang, c.id))
    _run, results = inspect_items(items, options, **kw)
    out = [r for _, r in results]
    _run.store.close()
    return out
