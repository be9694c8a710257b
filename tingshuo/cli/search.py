"""``tingshuo search``: find where something was said in an indexed audio library."""

from __future__ import annotations

import sys

from ..errors import InputError

EXAMPLES = """\
examples:
  tingshuo search "refund policy" --index lib/                 # files and seconds, matched words marked
  tingshuo search "怎么退货" --index lib/ --top 10               # a Mandarin question finds English speech too
  tingshuo search "期中考试" --index lib/ --lang zh --format json
  tingshuo search --audio-query question.wav --index lib/      # a spoken query
  tingshuo search "budget" --index lib/ --clips out/clips       # each hit as a WAV with a JSON sidecar

Matching is hybrid: words (English stemmed; Chinese characters, bigrams and toneless pinyin, so a
homophone the recogniser wrote differently still matches; numbers as 二十九 or 29, and 22240320 as
二二二四零三二零 or 两千二百二十四万零三百二十) fused with meaning
(multilingual-e5 finds candidates, the Universal Sentence Encoder re-scores them with it), so
paraphrases and the other language match. A query about something never said prints no hits."""


def add_parser(sub) -> None:
    from ..options import add_arguments
    from ..search.query import SearchOptions
    from . import HelpFormatter

    p = sub.add_parser("search", help="find where something was said in an indexed library",
                       description="Search an index made by 'tingshuo index': each hit is a file, the seconds of "
                                   "the sentence around the words that matched (the words' own seconds are "
                                   "match_start_s/match_end_s in --format json), and the transcript with them marked.",
                       epilog=EXAMPLES, formatter_class=HelpFormatter)
    p.add_argument("query", nargs="?", default=None, metavar="QUERY", help="what to look for (English or Mandarin)")
    p.add_argument("--index", "-i", required=True, metavar="LIB", help="the index folder")
    p.add_argument("--format", "-f", choices=("text", "json"), default="text", help="output format (default: text)")
    p.add_argument("--audio-query", metavar="WAV", help="a spoken query: its transcript is searched for")
    p.add_argument("--clips", metavar="DIR", help="write each hit as an audio clip with a JSON sidecar (DIR: outside "
                                                  "the index and the folders of indexed recordings)")
    p.add_argument("--clip-format", default="wav", metavar="EXT", help="clip format: wav, flac, mp3, ogg, m4a (default: wav)")
    p.add_argument("--model", "-m", default=None, help="speech recognition model for --audio-query (default: whisper-base)")
    add_arguments(p, SearchOptions)
    p.set_defaults(run=run)


def _clock(s: float) -> str:
    m, sec = divmod(max(0.0, s), 60)
    h, m = divmod(int(m), 60)
    return (f"{h}:{m:02d}:{sec:04.1f}" if h else f"{m:02d}:{sec:04.1f}")


def run(args) -> int:
    from ..options import from_namespace
    from ..search.index import Index
    from ..search.query import SearchOptions

    if args.query is None and not args.audio_query:
        raise InputError("Give a query, e.g. tingshuo search \"refund\" --index LIB, or --audio-query question.wav.")
    if args.query is not None and args.audio_query:
        raise InputError("Give either a typed query or --audio-query, not both.")
    options = from_namespace(SearchOptions, args)
    lib = Index(args.index, model=args.model, create=False)
    query = args.query if args.audio_query is None else lib.query_from_audio(args.audio_query)
    result = lib.search(query, options=options)
    clips, failed = [], []
    if args.clips and result.hits:  # the folder is checked before anything is printed or cut
        from ..search.clips import check_clips_folder

        check_clips_folder(args.clips, args.clip_format, lib)
    if args.format == "json":
        from ..util import json_text

        sys.stdout.write(json_text(result.to_dict(), indent=2) + "\n")
    else:
        if args.audio_query:
            print(f"query (heard): {query}")
        from ..search.text import one_line

        for k, h in enumerate(result.hits, 1):
            print(f"{k}. {one_line(h.audio)}  {_clock(h.start_s)}–{_clock(h.end_s)}  score {h.score:.2f}  "
                  f"[{', '.join(h.matched_by)}]  ({h.language})")
            print(f"   {one_line(h.text)}")
        if not result.hits:
            print(result.message())
    sys.stdout.flush()
    if args.clips and result.hits:  # after the hits: a clip that cannot be cut does not hide them
        from ..search.clips import write_clips
        from ..search.text import one_line

        def on_error(line: str) -> None:
            failed.append(line)
            print(f"error: {one_line(line)}", file=sys.stderr)

        clips = write_clips(result, args.clips, args.clip_format, library=lib, on_error=on_error)
    if clips:
        print(f"wrote {len(clips)} clip{'s' if len(clips) != 1 else ''} to {args.clips}", file=sys.stderr)
    return 1 if failed else 0
