"""``tingshuo index``: add audio files (or their existing transcripts) to a searchable library index."""

from __future__ import annotations

import os
import sys

EXAMPLES = """\
examples:
  tingshuo index recordings/ --index lib/              # transcribe and index every audio file under recordings/
  tingshuo index calls.jsonl meeting.mp3 --index lib/  # manifests (ours, NeMo), Kaldi dirs, LJSpeech too
  tingshuo index recordings/ --index lib/              # again: only new and changed files; deleted ones dropped
  tingshuo index --remove recordings/old.mp3 --index lib/
  tingshuo index --index lib/                          # what is in the index (re-embeds after an embedder upgrade,
                                                       # re-makes units of files an older tingshuo indexed)
  tingshuo index corpus/ --index lib/ --ray            # recognise and embed on Ray ($RAY_ADDRESS or a local Ray)
  tingshuo index recordings/ --index lib/ --rebuild    # a damaged index: delete it and index recordings/ anew

A transcript next to an audio file (talk.json written by 'tingshuo transcribe', talk.srt or talk.vtt)
is used as it is, without recognition. Files are keyed by content: an unchanged file is skipped, a
moved one keeps its entry. Interrupting is safe: every file finished is kept, the next run resumes.
An index made by an older tingshuo gets its units (sentences, clauses, number terms) made anew from
the words it stored, on any run (no recognition; resumable like the rest).
A file that fails is one 'error:' line and is skipped (exit status 1 at the end); an unexpected error
(a bug) names its type, and its traceback is appended to LIB/errors.log (--debug stops on it instead).
With --ray each new or changed file is recognised and embedded on a Ray cluster's actors; this process
decides what needs doing and writes the index (docs/scale.md).
Then: tingshuo search "what was said" --index lib/"""


def add_parser(sub) -> None:
    from ..asr.base import TranscribeOptions
    from ..options import add_arguments
    from ..scale.options import add_ray_arguments
    from . import HelpFormatter

    p = sub.add_parser("index", help="index an audio library for search",
                       description="Index audio for spoken-content search: transcribe (or read existing "
                                   "transcripts), cut into passages, store words, terms and multilingual vectors.",
                       epilog=EXAMPLES, formatter_class=HelpFormatter)
    p.add_argument("inputs", nargs="*", metavar="PATH", help="audio files, folders, manifests, Kaldi or LJSpeech dirs")
    p.add_argument("--index", "-i", required=True, metavar="LIB", help="the index folder (made if missing)")
    p.add_argument("--model", "-m", default=None, help="speech recognition model (default: whisper-base)")
    p.add_argument("--retranscribe", action="store_true",
                   help="transcribe every recognised file again (after changing --model)")
    p.add_argument("--remove", nargs="+", metavar="PATH", default=None, help="drop these files or folders from the index")
    p.add_argument("--rebuild", action="store_true",
                   help="delete the index's database and derived files first, then index PATH... anew "
                        "(for a damaged index; uploads in LIB/media are kept)")
    p.add_argument("--no-prune", dest="prune", action="store_false",
                   help="keep indexed files that no longer exist on disk (default: drop them)")
    p.add_argument("--threads", type=int, default=0, help="CPU threads for the recogniser (default: all cores)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar or per-file lines")
    add_arguments(p, TranscribeOptions, only=("language", "batch_size", "beam_size"))
    add_ray_arguments(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from ..asr.base import TranscribeOptions
    from ..options import from_namespace
    from ..scale.options import ray_options
    from ..search.index import Index

    options = from_namespace(TranscribeOptions, args)
    ray = ray_options(args)
    documents = stats = None
    if ray.active:
        from ..scale.executor import RunStats
        from ..scale.index import RayDocuments

        stats = RunStats()
        documents = RayDocuments(ray, stats)
    if args.rebuild:
        from ..errors import InputError
        from ..search.index import reset

        if not args.inputs:
            raise InputError("--rebuild indexes anew: give the audio files or folders (PATH...) the index held.")
        reset(args.index)
    if args.inputs:  # the folder is made (or found unwritable: read-only disk) before any model loads
        from . import prepare_output_dir

        prepare_output_dir(args.index, "--index")
    lib = Index(args.index, model=args.model, transcribe_options=options, cpu_threads=args.threads)
    if args.remove:
        n = lib.remove(args.remove)
        print(f"removed {n} file{'s' if n != 1 else ''} from {args.index}", file=sys.stderr)
        if not args.inputs:
            return 0
    show = not args.quiet and sys.stderr.isatty()
    bar = None
    if not args.quiet:
        from tqdm import tqdm

        bar = tqdm(total=None, unit="file", disable=not show, desc="indexing", dynamic_ncols=True,
                   bar_format="{desc}: {n} files [{elapsed}, {rate_fmt}] {postfix}")

    def on_file(status: str, path: str, message: str) -> None:
        if status == "failed":
            line = f"error: {message}"
        elif (status in ("added", "updated", "moved", "removed", "reembedding", "remaking", "remade", "advice")
              or status == "skipped" and message) and not args.quiet:
            line = f"{status}: {path}" + (f" ({message})" if message else "")
        else:
            line = None
        if bar is not None and status not in ("reembedding", "remaking", "removed", "advice"):
            bar.update(1)
            bar.set_postfix_str(status, refresh=False)
        if line and (status == "failed" or show or not args.quiet):
            from ..search.text import one_line

            line = one_line(line)
            (bar.write(line, file=sys.stderr) if bar is not None and show else print(line, file=sys.stderr))

    try:
        report = lib.add(args.inputs, retranscribe=args.retranscribe, on_file=on_file, prune=args.prune,
                         documents=documents, strict=getattr(args, "debug", False) or os.environ.get("TINGSHUO_DEBUG") == "1")
    except KeyboardInterrupt:
        print("\ninterrupted; every file finished is in the index: run the same command again to resume.",
              file=sys.stderr)
        return 130
    finally:
        if bar is not None:
            bar.close()
    info = lib.info()
    if not args.quiet:
        parts = [f"{report.added} added", f"{report.updated} updated", f"{report.skipped} unchanged"]
        parts += [f"{n} {what}" for n, what in ((report.moved, "moved"), (report.removed, "removed"),
                                                 (report.reembedded, "sentences re-embedded"),
                                                 (report.remade, "made anew from stored words"),
                                                 (len(report.failed), "failed")) if n]
        print(f"{', '.join(parts)} in {report.wall_s:.1f} s; {args.index} holds {info['files']} files, "
              f"{info['passages']} passages, {info['audio_s'] / 3600:.2f} h of audio", file=sys.stderr)
        if stats is not None and stats.pids:
            print(f"on Ray: {stats.describe()}", file=sys.stderr)
    return 1 if report.failed else 0
