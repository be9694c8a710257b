"""The driver of one pass over a dataset: signal checks in worker processes, transcript checks on
a batched recogniser, duplicates through the store, grades from the profile.

    >>> from tingshuo.quality import Clip, inspect_clips
    >>> results = inspect_clips([Clip("a.wav", "hello", "en")])       # doctest: +SKIP
    >>> results[0].grade, results[0].reasons                          # doctest: +SKIP

Every stage commits each clip's result to the store as it arrives (see ``store.py``), so a
killed run loses only the clips in flight, resumes where it stopped, and a grown dataset costs
only its new files. The per-clip signal work is a plain function (``measure.measure_file``)
run by an executor (``workers.LocalExecutor``); this module keeps the store, the duplicate
search, the grading and the counts. A clip that cannot be read or measured becomes a result
(graded low, with the reason), never the end of the run.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from .base import ClipResult, Finding, InspectOptions
from .grade import Profile, grade_of, load_profile

VERSION = "3"  # bump when a signal check changes what it measures (3: streamed, bounded memory)
AUDIO_PLACEHOLDER = "<<audio>>"  # stands for the clip's path in stored error messages
MAX_UNREADABLE_KEPT = 1000  # messages of unreadable inputs kept for the summary (all are counted)
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
    n_unreadable: int = 0
    worker_crashes: int = 0
    wall_s: dict = field(default_factory=dict)
    groups: list = field(default_factory=list)  # duplicate groups: {"kind", "members": [audio...]}
    unreadable: list = field(default_factory=list)  # the first MAX_UNREADABLE_KEPT reasons
    input_errors: list = field(default_factory=list)  # inputs that are not clips (set by dataset.py)

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("n_clips", "n_unreadable", "signal_computed", "signal_cached",
                                              "asr_computed", "asr_cached", "worker_crashes", "audio_s", "wall_s")}


def unreadable_reason(path: str) -> str:
    """Why a path has no content to hash, in one sentence (the decoder's words)."""
    from .stream import StreamError, _check_path

    try:
        _check_path(path)
    except StreamError as exc:
        return str(exc)
    return f"{path} cannot be read; check that it exists and is readable."


# ------------------------------------------------------------------------------ the run

class Inspection:
    """Runs the stages over re-iterable items; ``progress`` shows tqdm bars on stderr."""

    def __init__(self, options: InspectOptions | None = None, store_path: str | None = None,
                 progress: bool = False, on_clip: Callable[[Item], None] | None = None,
                 executor: Callable[..., Any] | None = None,
                 transcribe_many: Callable[..., Any] | None = None) -> None:
        from .store import Store

        self.options = options or InspectOptions()
        self.profile: Profile = load_profile(self.options.profile)
        self.store = Store(store_path or self.options.store or ":memory:")
        self.progress = progress
        self.on_clip = on_clip  # called after each clip's signal metrics are stored (tests use it)
        # executor(n_jobs, progress) -> a context manager with map(fn, [(tag, args)]) -> (tag, result)
        # and a ``crashes`` count; workers.LocalExecutor by default (another may run on a cluster)
        self.executor = executor
        # transcribe_many(paths, model, options) -> (index, Transcript or error): the recogniser stage's
        # executor; a local Transcriber by default (tingshuo.scale.transcribe.transcribe_many on Ray)
        self.transcribe_many = transcribe_many
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
        from .measure import failed, measure_file
        from ..errors import TingshuoError
        from .workers import LocalExecutor, WorkerCrashed

        t0 = time.time()
        o = self.options
        if o.dnsmos:
            from .dnsmos import check_installed

            check_installed()  # before any work: every clip would need it
        todo: dict[str, Item] = {}
        with self._bar(total, "signal checks") as bar:
            def tasks():
                for item in items():
                    key = self.key(item)
                    if key is None or self.store.has_signal(key, VERSION, o.dnsmos) or key in todo:
                        self.stats.signal_cached += key is not None and key not in todo
                        bar.update(1)
                        continue
                    todo[key] = item
                    yield key, (item.audio, o.dnsmos)

            def progress(key, seconds: float) -> None:
                item = todo.get(key)
                if item is not None:
                    bar.set_postfix_str(f"{Path(item.audio).name}: {seconds / 60:.1f} min measured", refresh=True)

            make = self.executor or LocalExecutor
            with make(o.n_jobs, progress if self.progress else None) as ex:
                for key, out in ex.map(measure_file, tasks()):
                    item = todo.pop(key)
                    if isinstance(out, (WorkerCrashed, TingshuoError)):  # a crash, or a lost item on a cluster
                        out = failed(item.audio, str(out))
                    self._stored(key, item, out)
                    bar.update(1)
                self.stats.worker_crashes += getattr(ex, "crashes", 0)
            self.store.commit()
        self.stats.wall_s["signal"] = round(time.time() - t0, 2)

    def _stored(self, key: str, item: Item, out) -> None:
        metrics = out.metrics
        if "error" in metrics:  # kept for any file with these bytes: each result names its own path
            metrics = {**metrics, "error": str(metrics["error"]).replace(item.audio, AUDIO_PLACEHOLDER)}
        self.store.put_signal(key, VERSION, self.options.dnsmos, metrics, out.pcm, out.words, out.loud,
                              out.index_words, out.index_frames)
        self.store.commit()  # each clip as it arrives: a kill loses only the clips in flight
        self.stats.signal_computed += 1
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

            topts = TranscribeOptions(beam_size=ASR_BEAM, batch_size=8)
            paths = [it.audio for _, it in need]
            if self.transcribe_many is not None:
                outs = self.transcribe_many(paths, self.options.asr_model, topts)
            else:
                tr = Transcriber(self.options.asr_model, topts, cpu_threads=self.options.asr_threads)
                outs = tr.transcribe_many(paths)
            with self._bar(len(need), "transcript checks") as bar:
                for i, out in outs:
                    key = need[i][0]
                    if isinstance(out, TingshuoError):
                        self.store.put_asr(key, self.asr_model, None, None, 0.0, str(out))
                    else:
                        self.store.put_asr(key, self.asr_model, out.text, out.language,
                                           float(out.language_probability or 0.0))
                    self.stats.asr_computed += 1
                    self.store.commit()  # each clip as it arrives
                    bar.update(1)
            self.store.commit()
        self.stats.wall_s["asr"] = round(time.time() - t0, 2)

    # -------------------------------------------------------------- stage 3: judge
    def judge(self, items: Callable[[], Iterable[Item]], total: int) -> Iterator[tuple[Item, ClipResult]]:
        t0 = time.time()
        js = _JudgeState()
        with self._bar(total, "grading") as bar:
            for item in items():
                bar.update(1)
                try:
                    result = self._grade(item, js)
                except Exception as exc:  # a bug grading one clip must not end the run: it is reported
                    why = (f"{item.audio} could not be graded ({type(exc).__name__}: {exc}); "
                           "please report it.")
                    result = ClipResult(audio=item.audio, grade="low", findings=(Finding("readable", "drop", why, 0, 1),),
                                        metrics={"readable": 0, "error": why}, id=item.id, text=item.text,
                                        lang=item.lang, key=self._keys.get(item.pos))
                js.first_audio.setdefault(item.pos, item.audio)
                if not result.metrics.get("readable"):
                    self.stats.n_unreadable += 1
                    if len(self.stats.unreadable) < MAX_UNREADABLE_KEPT:
                        self.stats.unreadable.append(str(result.metrics.get("error") or f"{item.audio}: unreadable"))
                self.stats.n_clips += 1
                yield item, result
        self.stats.groups = [{"kind": k[0], "members": v} for k, v in js.groups.items()]
        self.stats.wall_s["judge"] = round(time.time() - t0, 2)

    def _grade(self, item: Item, js: "_JudgeState") -> ClipResult:
        from .checks import CHECKS, findings_for
        from .consistency import TEXT_CHECKS, TextClip, measure_text
        from .dedupe import text_key

        o, prof = self.options, self.profile
        key = self.key(item)
        findings: list[Finding] = []
        sig = self.store.signal(key) if key else None
        if sig is None:
            metrics: dict = {"readable": 0, "error": unreadable_reason(item.audio)}
            pcm = None
        else:
            metrics, pcm = dict(sig[0]), sig[1]
            if "error" in metrics:
                metrics["error"] = str(metrics["error"]).replace(AUDIO_PLACEHOLDER, item.audio)
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
            dup = self._duplicate(item, key, pcm, js)
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
                if tk in js.by_text:
                    of = js.first_audio[js.by_text[tk]]
                    metrics.update({"duplicate_text": 1, "duplicate_text_of": of})
                    js.groups.setdefault(("text", js.by_text[tk]), [of]).append(item.audio)
                    f = prof.judge("duplicate_text", 1, "duplicates")
                    findings += [Finding("duplicates", x.severity, f"same transcript as {of}", 1, x.threshold)
                                 for x in f] or [Finding("duplicates", "note", f"same transcript as {of}", 1)]
                else:
                    js.by_text[tk] = item.pos
            js.first_audio.setdefault(item.pos, item.audio)
        return ClipResult(audio=item.audio, grade=grade_of(findings), findings=tuple(findings),
                          metrics=metrics, id=item.id, text=item.text, lang=item.lang, key=key)

    def _duplicate(self, item: Item, key: str, pcm: str | None, js: "_JudgeState"):
        """('exact'|'near', earlier audio, ber) when an earlier clip of this run has the same audio."""
        from .dedupe import is_near_duplicate, vote_offsets

        root = self._root
        first_pos, first_audio, by_pcm, groups = js.first_pos, js.first_audio, js.by_pcm, js.groups

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
        # most votes first; ties go to the earliest clip, so reruns and resumed runs agree
        cands = sorted(vote_offsets(own, hits).items(), key=lambda kv: (-kv[1][1], first_pos[kv[0]]))[:5]
        for other, (offset, _votes) in cands:
            fp = self.store.fingerprint(other)
            ok, ber = is_near_duplicate(words, fp, offset)
            if ok:
                p = root.get(first_pos[other], first_pos[other])  # the group's first clip
                root[item.pos] = p
                groups.setdefault(("near", p), [first_audio[p]]).append(item.audio)
                return "near", first_audio[p], round(ber, 3)
        return None


@dataclass
class _JudgeState:
    """What grading remembers across clips to find duplicates within this run."""

    first_pos: dict = field(default_factory=dict)  # content key -> first position in this run
    first_audio: dict = field(default_factory=dict)  # position -> audio path
    by_pcm: dict = field(default_factory=dict)  # decoded-PCM hash -> position
    by_text: dict = field(default_factory=dict)  # normalised transcript -> position
    groups: dict = field(default_factory=dict)  # (kind, first position) -> members


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


def inspect_items(items: list[Item] | Callable[[], Iterable[Item]], options: InspectOptions | None = None, *,
                  total: int | None = None, store_path: str | None = None, progress: bool = False,
                  on_clip=None, executor=None, transcribe_many=None,
                  ) -> tuple[Inspection, Iterator[tuple[Item, ClipResult]]]:
    """Run signal and ASR stages now; return the inspection and a lazy iterator of graded results."""
    factory = items if callable(items) else (lambda: iter(items))
    if total is None:
        total = sum(1 for _ in factory())
    run = Inspection(options, store_path, progress, on_clip, executor, transcribe_many)
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
