"""``tingshuo speak``: text to speech, streamed to a file sentence by sentence, with timestamps."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Iterator

from ..errors import InputError

EXAMPLES = """\
examples:
  tingshuo speak "Dr. Lee arrives at 3:30 pm." -o hello.wav       # hello.wav + hello.json (timestamps)
  tingshuo speak "我们明天上午9点见，带上¥50。" -o zh.mp3
  tingshuo speak "我用 Python 写代码。" -o mixed.ogg              # each script by its own voice
  tingshuo speak --text-file book.txt -o book.flac --rate 1.15   # any length: streamed, bounded memory
  echo "Hello from a pipe." | tingshuo speak -o - > hello.wav
  tingshuo voices                                                 # which voices are installed

Voices: en-joe (English, Piper) and zh-baker (Mandarin, FastSpeech2) are the defaults; with no
--voice each sentence's Chinese and English parts go to the right one. Numbers, dates, times,
money, percentages and abbreviations are read as words ("¥3.50" -> 三点五元, "$1,200" -> one
thousand two hundred dollars). The JSON sidecar says which sentence (and word) is spoken when."""

READ_BLOCK = 1 << 16
MAX_SKIP_WARNINGS = 5  # then one line sums up the rest


def add_parser(sub) -> None:
    from ..options import add_arguments
    from ..tts.base import SpeakOptions
    from . import HelpFormatter

    p = sub.add_parser("speak", help="text to speech (English, Mandarin, mixed), streamed sentence by sentence",
                       description="Speak text offline with neural voices: English (Piper) and Mandarin "
                                   "(FastSpeech2),\nsentence by sentence, into WAV, FLAC, MP3 or OGG.",
                       epilog=EXAMPLES, formatter_class=HelpFormatter)
    p.add_argument("text", nargs="?", help="the text to speak (or use --text-file, or standard input)")
    p.add_argument("--text-file", "-t", metavar="FILE", help="read the text from this UTF-8 file (or UTF-16 with a byte-order mark)")
    p.add_argument("--output", "-o", default="speech.wav", metavar="FILE",
                   help="audio file to write; '-' writes to stdout (default: speech.wav)")
    p.add_argument("--format", "-f", choices=("wav", "flac", "mp3", "ogg"), default=None,
                   help="audio format (default: from the output's suffix, else wav)")
    p.add_argument("--voice", "-v", default=None,
                   help="voice name (see 'tingshuo voices'); default: en-joe / zh-baker by script")
    p.add_argument("--timestamps", action=argparse.BooleanOptionalAction, default=True,
                   help="write OUTPUT.json with sentence and word times (default: on)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar or summary")
    add_arguments(p, SpeakOptions)
    p.set_defaults(run=run)


def _text_source(args) -> tuple[str | Iterator[str], int | None, str | None]:
    """(text or lazy pieces, total characters if known, input path)."""
    if args.text is not None and args.text_file:
        raise InputError("Give the text either as an argument or with --text-file, not both.")
    if args.text is not None:
        if not args.text.strip():
            raise InputError("The text to speak is empty; give at least one word.")
        return args.text, len(args.text), None
    if args.text_file:
        path = Path(args.text_file)
        if path.exists() and not path.is_file():  # was "text file not found" for /dev/stdin, a pipe, a folder
            what = "a folder" if path.is_dir() else "not a regular file (a pipe or a device)"
            raise InputError(f"--text-file {path} is {what}; give a text file, or pass the text on standard input "
                             "(tingshuo speak -o out.wav < text.txt).")
        if not path.is_file():
            raise InputError(f"{path}: text file not found; check the path.")
        if path.stat().st_size == 0:
            raise InputError(f"{path} is empty; give a file with text in it.")
        return _read_blocks(open(path, "rb"), str(path)), path.stat().st_size, str(path)
    if sys.stdin is None or sys.stdin.isatty():
        raise InputError("No text given; pass it as an argument, with --text-file, or on standard input.")
    return _read_blocks(sys.stdin.buffer, "standard input"), None, None


def _read_blocks(fh, name: str) -> Iterator[str]:
    """The text of ``fh`` decoded as it is read (speech starts before a book's end is read), by the rules
    and in the words that align's TEXT follows (``data.text.decode_blocks``)."""
    from ..data.text import decode_blocks

    def blocks():
        with fh:
            while block := fh.read(READ_BLOCK):
                yield block

    # NUL bytes are let through, as before: speech leaves control characters out
    return decode_blocks(blocks(), name, "give the text to speak (as an argument, with --text-file or on "
                                         "standard input)", nul_ok=True)


def run(args) -> int:
    from ..options import from_namespace
    from ..tts.base import SpeakOptions
    from ..tts.stream import describe_skipped, synthesize_stream, timings
    from ..tts.writer import AudioFileWriter
    from ..util import atomic_write_text, same_file
    from . import prepare_output_dir

    options = from_namespace(SpeakOptions, args)
    text, total_chars, in_path = _text_source(args)
    to_stdout = args.output == "-"
    out = Path(args.output)
    if not to_stdout:
        fmt = args.format or (out.suffix.lstrip(".").lower() or "wav")
        if fmt not in ("wav", "flac", "mp3", "ogg"):
            raise InputError(f"Cannot write '{out.suffix}' files; use .wav, .flac, .mp3 or .ogg (or --format).")
        if in_path and out.exists() and same_file(out, in_path):
            raise InputError(f"Refusing to overwrite the input {out}; choose another --output.")
        side = out.with_suffix(".json")
        if args.timestamps and side.is_dir():  # found after the audio was made: 'unexpected IsADirectoryError'
            raise InputError(f"The timestamps file {side} is a folder; choose another --output name, "
                             "or --no-timestamps.")
        if in_path and args.timestamps and side.exists() and same_file(side, in_path):
            raise InputError(f"The timestamps file {side} would overwrite the input text; choose another "
                             "--output name, or --no-timestamps.")
        if out.is_dir():
            raise InputError(f"--output {out} is a folder; give a file name such as {out / 'speech.wav'}.")
        prepare_output_dir(out.parent, "--output")
    else:
        fmt = args.format or "wav"

    show = not args.quiet and sys.stderr.isatty()
    bar = None
    if show:
        from tqdm import tqdm

        bar = tqdm(total=total_chars, unit="char", desc="speaking", dynamic_ncols=True, leave=False)
    started = time.perf_counter()
    first_ms = None
    sentences = []
    n_skipped = [0, 0]  # sentences, characters

    def skipped(sentence: str, pieces) -> None:
        n_skipped[0] += 1
        n_skipped[1] += sum(len(text) for text, _ in pieces)
        if n_skipped[0] <= MAX_SKIP_WARNINGS:
            msg = f"warning: left out what the voices cannot say: {describe_skipped(pieces)}"
            (bar.write(msg, file=sys.stderr) if bar is not None else print(msg, file=sys.stderr))

    chunks = synthesize_stream(text, args.voice, options, on_skip=skipped)
    writer = None
    collected = []
    try:
        for chunk in chunks:
            if first_ms is None:
                first_ms = (time.perf_counter() - started) * 1000
            if to_stdout:
                collected.append(chunk.samples)
            else:
                if writer is None:
                    writer = AudioFileWriter(out, chunk.sample_rate, fmt)
                writer.write(chunk.samples)
            sentences.extend(t.to_dict() for t in timings([chunk]))
            rate = chunk.sample_rate
            if bar is not None:
                bar.update(len(chunk.text.encode("utf-8")) if in_path else len(chunk.text))
        if writer is not None:
            writer.close()
            writer = None
    finally:
        if writer is not None:
            writer.abort()
        if bar is not None:
            bar.close()
    if n_skipped[0] > MAX_SKIP_WARNINGS:
        print(f"warning: in all, {n_skipped[1]} characters of {n_skipped[0]} sentences were left out "
              f"(the first {MAX_SKIP_WARNINGS} are listed above).", file=sys.stderr)
    audio_s = sum(s["end"] - s["start"] for s in sentences)
    if to_stdout:
        import numpy as np

        from ..audio.io import encode_audio
        from ..types import Audio

        samples = np.concatenate(collected)
        audio_s = samples.size / rate
        sys.stdout.buffer.write(encode_audio(Audio(samples, rate), fmt))
        sys.stdout.buffer.flush()
    else:
        import soundfile

        if fmt in ("wav", "flac"):  # mp3/ogg: the chunk sum stands (libmpg123 would print to stderr)
            try:
                audio_s = soundfile.info(str(out)).duration
            except Exception:
                pass
        if args.timestamps:
            side = out.with_suffix(".json")
            atomic_write_text(side, json.dumps({"audio": out.name, "sample_rate": rate, "duration": round(audio_s, 3),
                                                "sentences": sentences}, ensure_ascii=False, indent=1) + "\n")
    wall = time.perf_counter() - started
    if not args.quiet:
        where = "stdout" if to_stdout else str(out)
        print(f"spoke {len(sentences)} sentence{'s' if len(sentences) != 1 else ''} ({audio_s:.1f} s of audio at "
              f"{rate} Hz) in {wall:.1f} s, first audio after {first_ms:.0f} ms -> {where}", file=sys.stderr)
    return 0

