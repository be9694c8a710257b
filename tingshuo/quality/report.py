"""What a run shows: a terminal summary table and one self-contained report.html.

The page holds the grade breakdown, one histogram per metric with the profile's thresholds
drawn (matplotlib, embedded PNG), the duplicate groups, and the worst clips with embedded
audio players (Opus in data: URIs) and their reasons.
"""

from __future__ import annotations

import base64
import html
import heapq
import io
from collections import Counter
from typing import Any

from .base import ClipResult
from .grade import Profile

PLOTTED = [  # metric, label
    ("duration_s", "duration (s)"), ("active_level_dbfs", "active speech level (dBFS)"),
    ("clipped_fraction", "clipped-sample fraction"), ("leading_silence_s", "leading silence (s)"),
    ("trailing_silence_s", "trailing silence (s)"), ("speech_ratio", "speech ratio"),
    ("snr_db", "estimated SNR (dB)"), ("lowfreq_ratio", "share of power below 80 Hz"), ("dnsmos_ovrl", "DNSMOS OVRL"), ("dnsmos_bak", "DNSMOS BAK"),
    ("bandwidth_hz", "effective bandwidth (Hz)"), ("dropout_ms", "digital-zero gaps in speech (ms)"),
    ("asr_wer", "recogniser WER vs transcript"), ("asr_cer", "recogniser CER vs transcript"), ("words_per_s", "words per second"),
    ("chars_per_s", "characters per second"),
]
MAX_VALUES = 200_000  # per metric, for the histograms (a reservoir keeps memory flat)
WORST = 20
_SEV_SCORE = {"drop": 100, "review": 10, "note": 0}


class Summary:
    """Collects what the report needs, one result at a time (memory does not grow with the dataset)."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.grades: Counter = Counter()
        self.reasons: Counter = Counter()
        self.values: dict[str, list[float]] = {m: [] for m, _ in PLOTTED}
        self.n = 0
        self._worst: list[tuple[float, int, dict]] = []
        self.groups: list[dict] = []

    def add(self, r: ClipResult) -> None:
        self.n += 1
        self.grades[r.grade] += 1
        for f in r.findings:
            if f.severity != "note":
                self.reasons[f"{f.check} ({f.severity})"] += 1
        for m, _ in PLOTTED:
            v = r.metrics.get(m)
            if isinstance(v, (int, float)) and len(self.values[m]) < MAX_VALUES:
                self.values[m].append(float(v))
        score = sum(_SEV_SCORE[f.severity] for f in r.findings)
        if score > 0:
            entry = (score, -self.n, {"audio": r.audio, "grade": r.grade, "reasons": r.reasons, "text": r.text})
            if len(self._worst) < WORST:
                heapq.heappush(self._worst, entry)
            else:
                heapq.heappushpop(self._worst, entry)

    @property
    def worst(self) -> list[dict]:
        return [e[2] for e in sorted(self._worst, reverse=True)]

    # ------------------------------------------------------------------ terminal
    def table(self) -> str:
        lines = [f"{'grade':<8}{'clips':>8}{'share':>8}"]
        for g in ("high", "medium", "low"):
            c = self.grades.get(g, 0)
            lines.append(f"{g:<8}{c:>8}{(100 * c / self.n if self.n else 0):>7.1f}%")
        lines.append(f"{'total':<8}{self.n:>8}")
        if self.reasons:
            lines.append("")
            lines.append(f"{'finding':<36}{'clips':>8}")
            for reason, c in self.reasons.most_common(12):
                lines.append(f"{reason:<36}{c:>8}")
        return "\n".join(lines)

    # ------------------------------------------------------------------ html
    def histograms_png(self) -> tuple[str | None, list[str]]:
        """One PNG holding a histogram per metric that has values, thresholds drawn; and their names.

        One figure with many axes renders several times faster than one figure per metric.
        """
        shown = [(m, label) for m, label in PLOTTED if self.values[m]]
        if not shown:
            return None, []
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        cols = 3
        rows = -(-len(shown) // cols)
        fig, axes = plt.subplots(rows, cols, figsize=(4.0 * cols, 2.5 * rows), dpi=80, squeeze=False)
        colours = {"review": "#e0a000", "drop": "#c0392b"}
        for ax, (metric, label) in zip(axes.flat, shown):
            ax.hist(self.values[metric], bins=30, color="#4a7bb7")
            for direction in ("min", "max"):
                for level, t in self.profile.limits(metric, direction).items():
                    ax.axvline(t, color=colours[level], linestyle="--", linewidth=1.5,
                               label=f"{direction} {level} {t:g}")
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7)
            ax.set_title(label, fontsize=9)
            ax.tick_params(labelsize=7)
        for ax in list(axes.flat)[len(shown):]:
            ax.axis("off")
        fig.subplots_adjust(hspace=0.45, wspace=0.25, left=0.04, right=0.99, top=0.95, bottom=0.05)
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        plt.close(fig)
        return base64.b64encode(buf.getvalue()).decode(), [m for m, _ in shown]

    def html(self, title: str = "tingshuo inspect report", stats: dict | None = None) -> str:
        e = html.escape
        parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{e(title)}</title>",
                 "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}"
                 "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}"
                 ".high{color:#1e8449}.medium{color:#b9770e}.low{color:#c0392b}"
                 ".plots{display:flex;flex-wrap:wrap;gap:8px}.plots img{border:1px solid #eee}</style></head><body>",
                 f"<h1>{e(title)}</h1>",
                 f"<p>Profile <b>{e(self.profile.name)}</b>: {e(self.profile.description)}. {self.n} clips.</p>",
                 "<h2>Grades</h2><table><tr><th>grade</th><th>clips</th><th>share</th></tr>"]
        for g in ("high", "medium", "low"):
            c = self.grades.get(g, 0)
            parts.append(f"<tr><td class='{g}'>{g}</td><td>{c}</td><td>{(100 * c / self.n if self.n else 0):.1f}%</td></tr>")
        parts.append("</table>")
        if self.reasons:
            parts.append("<h2>Findings</h2><table><tr><th>check (severity)</th><th>clips</th></tr>")
            parts += [f"<tr><td>{e(r)}</td><td>{c}</td></tr>" for r, c in self.reasons.most_common()]
            parts.append("</table>")
        parts.append("<h2>Metrics</h2><p>Dashed lines: the profile's review (amber) and drop (red) limits.</p>"
                     "<div class='plots'>")
        png, names = self.histograms_png()
        if png:
            parts.append(f"<img alt='histograms of {e(', '.join(names))}' data-metrics='{e(','.join(names))}' "
                         f"src='data:image/png;base64,{png}'>")
        parts.append("</div>")
        parts.append(f"<h2>Duplicate groups ({len(self.groups)})</h2>")
        if self.groups:
            parts.append("<table><tr><th>kind</th><th>clips (first is kept)</th></tr>")
            for g in self.groups[:200]:
                parts.append(f"<tr><td>{e(g['kind'])}</td><td>{'<br>'.join(e(m) for m in g['members'])}</td></tr>")
            parts.append("</table>")
        else:
            parts.append("<p>None found.</p>")
        parts.append("<h2>Worst clips</h2>")
        if self.worst:
            parts.append("<table><tr><th>clip</th><th>grade</th><th>reasons</th><th>listen</th></tr>")
            for w in self.worst:
                player = _player(w["audio"])
                text = f"<br><small>{e(w['text'])}</small>" if w.get("text") else ""
                parts.append(f"<tr><td>{e(w['audio'])}{text}</td><td class='{w['grade']}'>{w['grade']}</td>"
                             f"<td>{'<br>'.join(e(x) for x in w['reasons'])}</td><td>{player}</td></tr>")
            parts.append("</table>")
        else:
            parts.append("<p>No clip has a finding.</p>")
        if stats:
            import json

            parts.append("<h2>Run</h2><pre style='white-space:pre-wrap'>"
                         f"{e(json.dumps(stats, ensure_ascii=False, indent=1, default=str))}</pre>")
        parts.append("</body></html>")
        return "\n".join(parts)


def _player(path: str, max_s: float = 15.0) -> str:
    """An <audio> element with the clip (first ``max_s`` seconds) embedded as Ogg/Opus."""
    from ..audio.io import encode_audio
    from ..types import Audio
    from .stream import head_samples

    x = head_samples(path, max_s)  # decodes only what is played: the file may be hours long
    if x is None or not x.size:
        return "<i>unreadable</i>"
    data = encode_audio(Audio(x, 16000), "ogg")
    b64 = base64.b64encode(data).decode()
    return f"<audio controls preload='none' src='data:audio/ogg;base64,{b64}'></audio>"


def write_report(path, summary: Summary, stats: dict | None = None) -> Any:
    from ..util import atomic_write_text

    return atomic_write_text(path, summary.html(stats=stats))
