"""``tingshuo chat``: the voice assistant over files, typed text, or a live microphone."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from ..errors import InputError

EXAMPLES = """\
examples:
  tingshuo chat --kb bank --input q1.wav --input q2.wav -o out/chat    # spoken turns -> reply WAVs + JSON
  tingshuo chat --kb bank --text                                       # type questions, read answers
  tingshuo chat --kb my_faq.yaml --text --speak -o out/chat            # ... and hear them as WAVs
  tingshuo chat --kb bank --brain openai --llm-url http://127.0.0.1:8080/v1 --text
  tingshuo chat --kb bank --mic                                        # live microphone and speaker
  tingshuo chat --kb my_faq.yaml --text --log logs/chat                # + clarified/declined turns -> logs/chat/turns.jsonl
  tingshuo chat check-kb my_faq.yaml                                   # entries callers will confuse, with suggestions

The knowledge base is a YAML, CSV or Markdown file of questions and answers (see
docs/knowledge-base.md); 'bank' is the bundled bilingual bank customer-service example.
With --brain openai, any OpenAI-compatible chat endpoint (llama.cpp server, Ollama, vLLM)
answers with the knowledge base as context, falling back to the knowledge base if it fails.
'check-kb FILE' asks each listed question as a caller would (left out of the brain) and reports
questions that would go to another entry, be clarified or declined, and likely-confused entries."""


def add_parser(sub) -> None:
    from ..dialogue.pipeline import ChatOptions
    from ..options import add_arguments
    from . import HelpFormatter

    p = sub.add_parser("chat", help="voice assistant: speech in, answers from a knowledge base out, as speech",
                       description="Hold a spoken conversation with a knowledge-base assistant (English and Mandarin).\n"
                                   "Answers stream sentence by sentence; talking over the assistant stops it.",
                       epilog=EXAMPLES, formatter_class=HelpFormatter)
    p.add_argument("action", nargs="?", choices=("check-kb",), help="check-kb: check a knowledge base (see below)")
    p.add_argument("kb_file", nargs="?", metavar="FILE", help="with check-kb: the knowledge base to check")
    p.add_argument("--kb", default="bank", metavar="FILE", help="knowledge base (.yaml, .csv, .md) or 'bank' (default)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--input", "-i", action="append", metavar="AUDIO", help="a caller turn as an audio file (repeat)")
    mode.add_argument("--text", action="store_true", help="type the caller's turns (stdin), one per line")
    mode.add_argument("--mic", action="store_true", help="live microphone and speaker (needs sounddevice)")
    p.add_argument("--output-dir", "-o", metavar="DIR", help="where reply WAVs and conversation.json go")
    p.add_argument("--brain", default="kb", choices=("kb", "openai", "llama"), help="who answers (default: kb)")
    p.add_argument("--llm-url", metavar="URL", help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8080/v1")
    p.add_argument("--llm-model", default="default", help="model name the endpoint expects")
    p.add_argument("--llm-model-path", metavar="GGUF", help="with --brain llama: a .gguf file (default: Gemma 3 270M)")
    p.add_argument("--verbose", "-v", action="store_true", help="print per-stage latency for each turn")
    p.add_argument("--log", metavar="DIR", help="append each clarified or declined turn to DIR/turns.jsonl "
                                                "(across sessions), to improve the knowledge base from real calls")
    p.add_argument("--json", action="store_true", help="with check-kb: print the findings as JSON")
    add_arguments(p, ChatOptions)
    p.set_defaults(run=run)


def _brain(args):
    from ..dialogue.brains import load_brain

    if args.brain == "openai":
        if not args.llm_url:
            raise InputError("--brain openai needs --llm-url (e.g. http://127.0.0.1:8080/v1).")
        return load_brain("openai", base_url=args.llm_url, model=args.llm_model, kb=args.kb,
                          api_key=os.environ.get("TINGSHUO_LLM_API_KEY"))
    if args.brain == "llama":
        return load_brain("llama", model_path=args.llm_model_path, kb=args.kb)
    return load_brain("kb", kb=args.kb)


def run(args) -> int:
    import dataclasses

    from ..dialogue.pipeline import ChatOptions
    from ..options import from_namespace

    if args.action == "check-kb":
        return check_kb(args)
    if args.kb_file:
        raise InputError(f"unexpected argument '{args.kb_file}'; give the knowledge base with --kb FILE "
                         "(or run: tingshuo chat check-kb FILE).")
    options = from_namespace(ChatOptions, args)
    if args.text and args.speak is None:
        options = dataclasses.replace(options, speak=bool(args.output_dir))
    if not (args.input or args.text or args.mic):
        raise InputError("Choose how the caller talks: --input AUDIO (repeatable), --text, or --mic.")
    if args.input:
        for path in args.input:
            if not Path(path).is_file():
                raise InputError(f"{path}: file not found.")
        if not args.output_dir:
            raise InputError("--input needs --output-dir for the reply audio and the conversation JSON.")
    if args.output_dir:
        from . import prepare_output_dir

        prepare_output_dir(args.output_dir)
    if args.log:  # before the brain loads: a bad folder fails at once
        from ..dialogue.turnlog import TurnLog

        args.turn_log = TurnLog(args.log)
    brain = _brain(args)
    if args.log:
        args.turn_log.kb = getattr(getattr(brain, "kb", None), "name", None)
    if args.mic:
        return asyncio.run(_live(brain, options, args))
    return asyncio.run(_session(brain, options, args))


class _Recorder:
    """Collects the frames of a session: reply audio per turn, transcripts, metrics."""

    def __init__(self, verbose: bool, turn_log=None) -> None:
        self.verbose = verbose
        self.turn_log = turn_log
        self.conversation = None  # the pipeline's, for the caller's words of a logged turn
        self.audio: dict[int, list] = {}
        self.rate = 24000
        self.metrics: dict[int, dict] = {}
        self.transcripts: list[dict] = []
        self.handoffs: list[int] = []
        self.errors: list[str] = []

    async def __call__(self, frame) -> None:
        from ..dialogue import frames as F

        if isinstance(frame, F.OutputAudio) and frame.samples.size:
            self.audio.setdefault(frame.turn, []).append(frame.samples)
            self.rate = frame.sample_rate
        elif isinstance(frame, F.TranscriptionFinal):
            self.transcripts.append({"text": frame.text, "language": frame.language, "start": round(frame.start_s, 3),
                                     "end": round(frame.end_s, 3), "confident": frame.confident})
            print(f"caller: {frame.text or '(unintelligible)'}", flush=True)
        elif isinstance(frame, F.BotTextEnd):
            print(f"assistant: {frame.text}", flush=True)
            if self.turn_log is not None:
                said = [m for m in (self.conversation.messages if self.conversation else [])
                        if m.role == "user" and m.meta.get("turn") == frame.turn]
                caller, language = (said[-1].text, said[-1].language) if said else ("", None)
                self.turn_log.record(turn=frame.turn, caller=caller, language=language, reply=frame.text,
                                     meta=frame.meta)
        elif isinstance(frame, F.BotStoppedSpeaking) and frame.interrupted:
            print(f"  (interrupted; the caller heard: {frame.spoken!r})", file=sys.stderr)
        elif isinstance(frame, F.Handoff):
            self.handoffs.append(frame.turn)
            print("-> transferring to a human agent", file=sys.stderr)
        elif isinstance(frame, F.ErrorFrame):
            self.errors.append(frame.message)
            print(f"warning: {frame.message}", file=sys.stderr)
        elif isinstance(frame, F.TurnMetrics):
            self.metrics[frame.turn] = frame.to_dict()
            if self.verbose:
                m = frame.to_dict()
                parts = [f"{k.replace('_ms', '')} {v:.0f} ms" for k, v in m.items() if k != "turn" and v is not None]
                print(f"  turn {frame.turn} latency: " + ", ".join(parts), file=sys.stderr)


async def _session(brain, options, args) -> int:
    import numpy as np

    from ..audio.io import load_audio
    from ..dialogue.pipeline import VoicePipeline
    from ..types import Audio
    from ..util import atomic_write_text

    pipeline = VoicePipeline(brain, options, realtime=False)
    rec = _Recorder(args.verbose, getattr(args, "turn_log", None))
    rec.conversation = pipeline.conversation
    pipeline.on_frame(rec)
    status = 0  # 1: standard input was not typed text
    await pipeline.start()
    turns_in = []
    if args.input:
        for path in args.input:
            audio = load_audio(path)
            heard_before = len(rec.transcripts)
            tail = np.zeros(int((options.end_of_turn_s + 0.6) * 16000), np.float32)
            samples = np.concatenate([audio.samples, tail])
            for i in range(0, samples.size, 1600):
                await pipeline.feed(samples[i:i + 1600])
            await pipeline.end_of_input()
            if len(rec.transcripts) == heard_before:  # no speech at all in this turn
                rec.transcripts.append({"text": "", "language": None, "confident": False, "no_speech": True})
                print("caller: (no speech)", flush=True)
                await pipeline.start_turn("", options.language, canned="not_heard")
            await pipeline.wait_idle()
            turns_in.append(path)
    else:
        print("type a question (Ctrl-D to end)", file=sys.stderr)
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, _read_turn, sys.stdin)
            if line is None:
                print("error: standard input has a line of many megabytes (binary data?); stopped reading it.",
                      file=sys.stderr)
                status = 1
                break
            if not line:
                break
            if line.strip():
                try:
                    await pipeline.say(line.strip())
                except InputError as exc:  # a line too long: say so, take the next one
                    print(f"error: {exc}", file=sys.stderr)
                    continue
                await pipeline.wait_idle()
    await pipeline.close()
    if args.output_dir:
        from ..audio.io import save_audio

        out = Path(args.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        replies = {}
        for turn, pieces in sorted(rec.audio.items()):
            path = out / f"reply_{turn:02d}.wav"
            save_audio(path, Audio(np.concatenate(pieces), rec.rate))
            replies[turn] = str(path)
        transcript = {"knowledge_base": getattr(getattr(brain, "kb", None), "name", None), "brain": brain.name,
                      "inputs": turns_in, "messages": pipeline.conversation.to_list(), "caller_transcripts": rec.transcripts,
                      "replies": replies, "metrics": [rec.metrics[k] for k in sorted(rec.metrics)],
                      "handoff_turns": rec.handoffs, "warnings": rec.errors}
        atomic_write_text(out / "conversation.json", json.dumps(transcript, ensure_ascii=False, indent=2) + "\n")
        print(f"conversation written to {out / 'conversation.json'} ({len(replies)} reply files)", file=sys.stderr)
    return status


async def _live(brain, options, args) -> int:
    """Microphone in, speaker out, in real time; Ctrl-C ends the call."""
    try:
        import sounddevice as sd
    except (ImportError, OSError) as exc:
        raise InputError(f"Live audio needs the sounddevice package and a working sound device ({exc}); "
                         "pip install sounddevice, or use --input / --text.") from None
    from ..dialogue import frames as F
    from ..dialogue.pipeline import VoicePipeline

    pipeline = VoicePipeline(brain, options, realtime=True)
    rec = _Recorder(args.verbose, getattr(args, "turn_log", None))
    rec.conversation = pipeline.conversation
    pipeline.on_frame(rec)
    loop = asyncio.get_running_loop()
    mic: asyncio.Queue = asyncio.Queue()
    speaker = sd.OutputStream(samplerate=options.sample_rate, channels=1, dtype="float32")

    async def play(frame) -> None:
        if isinstance(frame, F.OutputAudio) and frame.samples.size:
            await loop.run_in_executor(None, speaker.write, frame.samples.reshape(-1, 1))
        elif isinstance(frame, F.Interruption):
            speaker.abort()
            speaker.start()

    pipeline.on_frame(play)

    def on_audio(indata, frames, t, status) -> None:
        loop.call_soon_threadsafe(mic.put_nowait, indata[:, 0].copy())

    await pipeline.start()
    print("listening; speak to the assistant (Ctrl-C to hang up)", file=sys.stderr)
    try:
        with sd.InputStream(samplerate=16000, channels=1, dtype="float32", blocksize=1600, callback=on_audio):
            speaker.start()
            while True:
                await pipeline.feed(await mic.get())
    except (KeyboardInterrupt, asyncio.CancelledError):
        pass
    finally:
        speaker.stop()
        await pipeline.close()
    return 0


def check_kb(args) -> int:
    """``tingshuo chat check-kb FILE``: findings and suggestions, one per paragraph (or --json)."""
    from ..dialogue.check import check_kb as run_check
    from ..dialogue.kb import load_kb

    source = args.kb_file or args.kb
    if not args.kb_file and "--kb" not in sys.argv:
        raise InputError("check-kb needs the knowledge base: tingshuo chat check-kb FILE.")
    kb = load_kb(source)
    print(f"checking {source}: {len(kb.entries)} entries, each listed question asked as a caller would ...",
          file=sys.stderr)
    report = run_check(kb)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=1))
        return 0
    print(f"{report.kb}: {report.held_out_right} of {report.n_questions} listed questions still find their own "
          f"entry when left out; {len(report.findings)} finding{'s' if len(report.findings) != 1 else ''}.")
    for f in report.findings:
        print(f"\n[{f.kind}] {f.message}\n  suggestion: {f.suggestion}")
    return 0


MAX_TURN_READ = 1 << 20  # characters read per piece of a typed turn
MAX_TURN_PIECES = 16  # a "line" longer than this many pieces is not typed text


def _read_turn(stream) -> str | None:
    """One line of ``stream``, read in bounded pieces: ``readline()`` on ``< /dev/zero`` (no newline, ever)
    held it all in memory until "unexpected MemoryError". A line over one piece comes back cut (the
    pipeline refuses it as too long); None when no newline came within ``MAX_TURN_PIECES`` pieces."""
    line = stream.readline(MAX_TURN_READ)
    if len(line) < MAX_TURN_READ or line.endswith("\n"):
        return line
    for _ in range(MAX_TURN_PIECES):  # skip the rest of the long line without keeping it
        more = stream.readline(MAX_TURN_READ)
        if not more or more.endswith("\n"):
            return line
    return None
