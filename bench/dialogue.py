"""Voice-assistant benchmark: spoken questions to the bank knowledge base, end to end.

    python bench/dialogue.py [--limit N] [--kb shop] [--out bench/results/dialogue.json]

What it measures, on the same audio for both systems:
  * ours: tingshuo's VoicePipeline (streaming VAD + Whisper base, knowledge-base brain, answers
    spoken sentence by sentence while the rest is made) fed 40 spoken caller turns (20 en, 20 zh:
    paraphrases of the knowledge base's questions, none copied from it, and 6 follow-ups that only
    make sense after the previous turn). Per-stage latency per turn (ASR, brain first text, TTS
    first audio, voice-to-voice = end of the caller's speech to the first answer audio, without
    the end-of-turn silence wait, which is a setting: --end-of-turn-s, 0.6 s by default; turns are
    fed at real-time pace, as from a phone line, so work done during that wait counts), answer
    accuracy (the knowledge-base answer the turn is about), barge-in stop latency (the caller
    talks over a long answer), and what happens on off-topic speech (real dev clips).
  * peer, the naive cascade people stitch together: faster-whisper transcribes the turn, the same
    brain answers, and the whole answer is synthesised before any of it plays. Same brain and
    voices, so the difference is the streaming design, not the models.
  * ours without speculative ASR (ChatOptions(speculative_asr=False)): what recognising the turn
    during the end-of-turn silence buys.

With ``--kb NAME`` (a question set in bench/data/kb, e.g. shop: a knowledge base the brain was not
tuned on), the caller turns are that set's questions instead: the first English and the first
Mandarin question of each entry, one call each, and the set's follow-up calls.

The caller turns are synthesised by tingshuo's own voices (en-joe, zh-baker); real recorded
questions about banking were not available offline. That makes the speech clean: real callers
will be harder for the recogniser. Timings are wall-clock on this machine; run it on a quiet one.
"""

from __future__ import annotations

import _benchpath  # noqa: F401  (first: keeps bench/inspect.py from shadowing the stdlib)

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import DEV, dev_rows, peak_rss_mb  # noqa: E402

# (language, [(caller turn, expected entry id, follow-up index or None), ...]) — one conversation each.
CONVERSATIONS: list[tuple[str, list[tuple[str, str, int | None]]]] = [
    ("en", [("Can you tell me how much money I have left in my account?", "balance", None)]),
    ("en", [("I lost my debit card somewhere in town today.", "card_lost", None),
            ("How long until I get a new one?", "card_lost", 0)]),
    ("en", [("I just received a new card. How do I start using it?", "card_activate", None)]),
    ("en", [("I can't remember the PIN for my card.", "pin_reset", None)]),
    ("en", [("My card got blocked after I typed the wrong code three times.", "card_locked", None)]),
    ("en", [("I'd like to send some money to my friend at another bank.", "transfer_domestic", None),
            ("Do you charge anything for that?", "transfer_domestic", 1)]),
    ("en", [("What's the maximum amount I can move in one day?", "transfer_limit", None)]),
    ("en", [("I need to wire money to my daughter in Canada.", "transfer_international", None),
            ("How many days will it take?", "transfer_international", 0)]),
    ("en", [("The money I sent yesterday never arrived.", "transfer_failed", None)]),
    ("en", [("Why is there a monthly charge on my account?", "fees_account", None)]),
    ("en", [("Will I pay anything if I use another bank's cash machine?", "fees_atm", None)]),
    ("en", [("What time do you close on Saturday?", "opening_hours", None)]),
    ("en", [("Is there a branch of your bank close to where I live?", "branch_location", None)]),
    ("en", [("I'd like to open a new savings account.", "open_account", None)]),
    ("en", [("How can I get a credit card from you?", "credit_card_apply", None)]),
    ("en", [("A stranger made a payment with my card that I never authorised.", "fraud_report", None)]),
    ("en", [("Can I please speak to a real person?", "human_agent", None)]),
    ("zh", [("我想知道我卡里还剩多少钱", "balance", None),
            ("这个要收费吗？", "balance", 0)]),
    ("zh", [("我的钱包丢了，银行卡也在里面。", "card_lost", None),
            ("补一张新卡要多长时间？", "card_lost", 0)]),
    ("zh", [("刚收到的新卡怎么开通？", "card_activate", None)]),
    ("zh", [("我把银行卡密码忘了。", "pin_reset", None)]),
    ("zh", [("我想给我妈妈转一笔钱。", "transfer_domestic", None),
            ("大概多久能到账？", "transfer_domestic", 0)]),
    ("zh", [("一天最多可以转多少钱？", "transfer_limit", None)]),
    ("zh", [("我想给在美国的儿子汇款。", "transfer_international", None)]),
    ("zh", [("我转的钱对方一直没收到。", "transfer_failed", None)]),
    ("zh", [("在别的银行的取款机取钱要手续费吗？", "fees_atm", None)]),
    ("zh", [("你们星期六上班吗？", "opening_hours", None)]),
    ("zh", [("我想开一个新的账户。", "open_account", None)]),
    ("zh", [("我想申请一张信用卡。", "credit_card_apply", None)]),
    ("zh", [("这个月的信用卡账单怎么还？", "credit_card_bill", None)]),
    ("zh", [("我想申请一笔个人贷款。", "loan_personal", None)]),
    ("zh", [("买房子可以在你们这里贷款吗？", "mortgage", None)]),
    ("zh", [("现在定期存款的利息是多少？", "deposit_rates", None)]),
    ("zh", [("我要投诉你们的服务。", "complaint", None)]),
]
VOICES = {"en": "en-joe", "zh": "zh-baker"}
BARGE_IN_TRIALS = 5
FRAME = 320  # 20 ms at 16 kHz


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, default=0, help="only the first N conversations (0: all)")
    ap.add_argument("--out", default="bench/results/dialogue.json")
    ap.add_argument("--kb", default="bank", help="'bank' (the built-in conversations) or a question set in "
                                                 "bench/data/kb (e.g. shop)")
    ap.add_argument("--asr-beam-size", type=int, default=None,
                    help="beam width for the caller's speech in ours (default: ChatOptions' default)")
    args = ap.parse_args()
    mine = {} if args.asr_beam_size is None else {"asr_beam_size": args.asr_beam_size}
    convs, kb_path = conversations(args.kb)
    convs = convs[:args.limit] if args.limit else convs

    from tingshuo.asr.pipeline import load_engine
    from tingshuo.dialogue.brains.kb import KBBrain
    from tingshuo.dialogue.pipeline import ChatOptions

    brain = KBBrain(kb_path)
    engine = load_engine("whisper-base")
    audio = {text: speak16k(text, VOICES[lang]) for lang, turns in convs for text, _, _ in turns}
    print(f"{len(audio)} caller turns synthesised", file=sys.stderr)

    ours = [run_ours(brain, engine, lang, turns, audio, **mine) for lang, turns in convs]
    ours_turns = [t for conv in ours for t in conv]
    plain_turns = [t for lang, turns in convs
                   for t in run_ours(brain, engine, lang, turns, audio, speculative_asr=False, **mine)]
    peer_turns = [t for lang, turns in convs for t in run_peer(brain, lang, turns, audio)]
    barge = [barge_in_trial(brain, engine) for _ in range(BARGE_IN_TRIALS)]
    off_topic = run_off_topic(brain, engine)

    result = {
        "data": {"kb": args.kb, "turns": len(ours_turns), "en": sum(t["lang"] == "en" for t in ours_turns),
                 "zh": sum(t["lang"] == "zh" for t in ours_turns),
                 "follow_ups": sum(t["follow_up"] is not None for t in ours_turns),
                 "caller_voices": VOICES, "note": "caller turns synthesised by tingshuo's voices"},
        "ours": summarise(ours_turns) | {
            "asr_beam_size": mine.get("asr_beam_size", ChatOptions().asr_beam_size),
            "barge_in_onset_to_stop_ms": stats([b["onset_to_stop_ms"] for b in barge if b]),
            "barge_in_detected_to_stop_ms": stats([b["detected_to_stop_ms"] for b in barge if b and b["detected_to_stop_ms"] is not None]),
            "barge_in_trials": len(barge), "barge_in_missed": sum(b is None for b in barge),
            "off_topic": off_topic, "peak_rss_mb": peak_rss_mb()},
        "ours_without_speculative_asr": summarise(plain_turns) | {
            "what": "the same pipeline with ChatOptions(speculative_asr=False): the caller's turn is "
                    "recognised only after the end-of-turn silence"},
        "peer_naive_cascade": summarise(peer_turns) | {
            "what": "faster-whisper transcribe -> same KB brain -> whole answer synthesised before playing"},
        "turns": [{"ours": o, "peer": p} for o, p in zip(ours_turns, peer_turns)],
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    brief = {k: v for k, v in result.items() if k != "turns"}
    print(json.dumps(brief, ensure_ascii=False, indent=1))
    return 0


# ------------------------------------------------------------------ helpers
def conversations(name: str) -> tuple[list, str]:
    """(conversations, knowledge base) for 'bank' or a question set in bench/data/kb."""
    if name == "bank":
        return CONVERSATIONS, "bank"
    import yaml

    from tingshuo.dialogue.kb import text_language

    data = Path(__file__).resolve().parent / "data" / "kb"
    spec = yaml.safe_load((data / f"{name}.questions.yaml").read_text(encoding="utf-8"))
    seen: set = set()
    convs = []
    for entry, text in spec["questions"]:
        lang = text_language(text)
        if (entry, lang) not in seen:
            seen.add((entry, lang))
            convs.append((lang, [(text, entry, None)]))
    for call in spec.get("conversations") or []:
        turns = [(t[1], t[0], t[2] if len(t) > 2 else None) for t in call]
        convs.append((text_language(call[0][1]), turns))
    return convs, str(data / spec["kb"])


def speak16k(text: str, voice: str) -> np.ndarray:
    from tingshuo.tts import speak

    a = speak(text, voice=voice, options={"sample_rate": 16000})
    return a.samples.astype(np.float32)


def answered(meta: dict, entry: str, follow_up: int | None, lang: str) -> bool:
    """Whether the reply (its record: source, entry, follow_up, language) is the expected
    knowledge-base answer, in the caller's language."""
    return (meta.get("source") in ("kb", "kb-follow-up") and meta.get("entry") == entry
            and meta.get("follow_up") == follow_up and meta.get("language") == lang)


def stats(values: list[float]) -> dict:
    if not values:
        return {}
    v = sorted(values)
    return {"median": round(statistics.median(v), 1), "p90": round(v[min(len(v) - 1, int(0.9 * len(v)))], 1),
            "max": round(v[-1], 1), "n": len(v)}


def summarise(turns: list[dict]) -> dict:
    out = {"accuracy": round(sum(t["correct"] for t in turns) / len(turns), 3),
           "accuracy_en": _acc(turns, "en"), "accuracy_zh": _acc(turns, "zh"),
           "accuracy_follow_ups": round(sum(t["correct"] for t in turns if t["follow_up"] is not None)
                                        / max(1, sum(t["follow_up"] is not None for t in turns)), 3)}
    for key in ("voice_to_voice_ms", "asr_ms", "brain_first_token_ms", "tts_first_chunk_ms"):
        s = stats([t[key] for t in turns if t.get(key) is not None])
        if s:
            out[key] = s
    return out


def _acc(turns, lang):
    sel = [t for t in turns if t["lang"] == lang]
    return round(sum(t["correct"] for t in sel) / max(1, len(sel)), 3)


def make_pipeline(brain, engine, realtime=False, **options):
    from tingshuo.dialogue.pipeline import ChatOptions, VoicePipeline

    p = VoicePipeline(brain, ChatOptions(**options), engine=engine, realtime=realtime)
    frames: list = []

    async def keep(frame):
        frames.append((time.perf_counter(), frame))

    p.on_frame(keep)
    return p, frames


async def feed(p, samples: np.ndarray, tail_s: float = 1.4, realtime: bool = True) -> None:
    """The caller's turn and then silence, in 100-ms pieces, at the pace a phone line delivers them."""
    samples = np.concatenate([samples, np.zeros(int(tail_s * 16000), np.float32)])
    t0 = time.perf_counter()
    for n, i in enumerate(range(0, samples.size, 1600)):
        if realtime:
            await asyncio.sleep(max(0.0, t0 + (n + 1) * 0.1 - time.perf_counter()))
        await p.feed(samples[i:i + 1600])


def run_ours(brain, engine, lang, turns, audio, **options) -> list[dict]:
    async def go():
        p, frames = make_pipeline(brain, engine, **options)
        await p.start()
        for text, _, _ in turns:
            await feed(p, audio[text])
            await p.wait_idle()
        await p.end_of_input()
        await p.wait_idle()
        await p.close()
        return p

    p = asyncio.run(go())
    heard = [m for m in p.conversation.messages if m.role == "user"]
    said = [m for m in p.conversation.messages if m.role == "assistant"]
    metrics = {m.turn: m for m in p.metrics}
    out = []
    for k, (text, entry, fu) in enumerate(turns):
        answer = said[k].text if k < len(said) else ""
        m = metrics.get(k + 1)
        row = {"lang": lang, "question": text, "heard": heard[k].text if k < len(heard) else "",
               "answer": answer, "expected": entry, "follow_up": fu,
               "correct": k < len(said) and answered(said[k].meta, entry, fu, lang)}
        if m is not None:
            row.update({k2: getattr(m, k2) for k2 in ("voice_to_voice_ms", "asr_ms", "brain_first_token_ms",
                                                      "tts_first_chunk_ms")})
        out.append(row)
    print(f"ours{options or ''} {lang}: " + " | ".join(f"{'ok' if r['correct'] else 'WRONG'} {r['heard']}" for r in out),
          file=sys.stderr)
    return out


_fw = None


def run_peer(brain, lang, turns, audio) -> list[dict]:
    """faster-whisper on the whole turn, the brain's whole answer, then the whole answer synthesised."""
    global _fw
    from faster_whisper import WhisperModel

    from tingshuo.dialogue.context import Conversation
    from tingshuo.dialogue.kb import text_language
    from tingshuo.models import resolve
    from tingshuo.tts import speak

    if _fw is None:
        _fw = WhisperModel(str(resolve("whisper-base")), device="cpu", compute_type="int8", cpu_threads=2)
    conv = Conversation(8)
    out = []
    for text, entry, fu in turns:
        t0 = time.perf_counter()
        segments, info = _fw.transcribe(audio[text], beam_size=5)
        heard = "".join(s.text for s in segments).strip()
        t1 = time.perf_counter()
        language = info.language if info.language in ("en", "zh") else text_language(heard)
        conv.add("user", heard, language)
        answer = ""
        reply_info = None
        for piece in brain.respond(conv, heard, language):
            if isinstance(piece, str):
                answer += piece
            else:
                reply_info = piece
        t2 = time.perf_counter()
        conv.add("assistant", answer, language, meta=reply_info.to_dict() if reply_info else {})
        speak(answer, options={"sample_rate": 24000})
        t3 = time.perf_counter()
        out.append({"lang": lang, "question": text, "heard": heard, "answer": answer, "expected": entry,
                    "follow_up": fu, "correct": answered(reply_info.to_dict() if reply_info else {}, entry, fu, lang),
                    "voice_to_voice_ms": (t3 - t0) * 1000, "asr_ms": (t1 - t0) * 1000,
                    "brain_first_token_ms": (t2 - t1) * 1000, "tts_first_chunk_ms": (t3 - t2) * 1000})
    return out


def barge_in_trial(brain, engine) -> dict | None:
    """The caller talks over a long answer, fed in 20-ms frames in real time (as a microphone or WebRTC sends).

    ``onset_to_stop_ms``: from the moment the caller's first speech sample was spoken (the frame
    holding it arrives up to 20 ms later) to playback stopping — VAD detection included.
    ``detected_to_stop_ms``: the pipeline's own figure, from speech detection to the stop.
    """
    from tingshuo.audio.io import load_audio
    from tingshuo.audio.vad import VADOptions, detect_speech
    from tingshuo.dialogue import frames as F

    speech = load_audio(Path(__file__).resolve().parent.parent / "tests" / "data" / "cathy_a0001.wav").samples
    onset = int(detect_speech(speech, VADOptions(speech_pad_s=0.0))[0][0] * 16000)
    samples = np.concatenate([speech, np.zeros(16000, np.float32)])

    async def go():
        p, frames = make_pipeline(brain, engine, realtime=True)
        await p.start()
        await p.say("How do I send money abroad?")
        for _ in range(300):
            if any(isinstance(f, F.BotStartedSpeaking) for _, f in frames):
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.8)
        arrived = []
        t0 = time.perf_counter()
        for n, i in enumerate(range(0, samples.size, FRAME)):
            await asyncio.sleep(max(0.0, t0 + (n + 1) * FRAME / 16000 - time.perf_counter()))
            arrived.append(time.perf_counter())  # the frame is complete now
            await p.feed(samples[i:i + FRAME])
        await p.wait_idle()
        await p.close()
        k = onset // FRAME
        t_onset = arrived[k] - (min(samples.size, (k + 1) * FRAME) - onset) / 16000
        return p, frames, t_onset

    p, frames, t_onset = asyncio.run(go())
    stopped = [t for t, f in frames if isinstance(f, F.BotStoppedSpeaking) and f.interrupted]
    detected = [m.barge_in_stop_ms for m in p.metrics if m.barge_in_stop_ms is not None]
    if not stopped:
        return None
    return {"onset_to_stop_ms": (stopped[0] - t_onset) * 1000, "detected_to_stop_ms": detected[0] if detected else None}


def run_off_topic(brain, engine) -> dict:
    """Real dev clips (news, audiobooks) as caller turns: the assistant should not answer them confidently."""
    if not (DEV / "manifest.jsonl").exists():
        return {"skipped": f"no dev data at {DEV}"}
    rows = [r for lang in ("en", "zh") for r in
            [r for r in dev_rows("read", langs=(lang,)) if 2.0 <= r.get("duration_s", 0) <= 8.0][::7][:5]]
    if not rows:
        return {"skipped": f"no dev data at {DEV}"}
    from tingshuo.audio.io import load_audio

    sources = []
    for r in rows:
        async def go(path=r["path"]):
            p, _ = make_pipeline(brain, engine)
            await p.start()
            await feed(p, load_audio(path).samples)
            await p.end_of_input()
            await p.wait_idle()
            await p.close()
            return p

        p = asyncio.run(go())
        replies = [m for m in p.conversation.messages if m.role == "assistant"]
        sources.append(replies[0].meta.get("source", "?") if replies else "none")
    return {"clips": len(rows), "answered_from_kb": sources.count("kb"),
            "declined_out_of_scope": sources.count("out_of_scope"),
            "clarified_or_not_heard": sum(s in ("clarify", "not-heard") for s in sources), "sources": sources}


if __name__ == "__main__":
    sys.exit(main())
