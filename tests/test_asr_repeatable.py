"""A chunk whose decode fails is decoded again; CTranslate2's sampler cannot be re-seeded (its generator is
per worker thread, seeded once: OpenNMT/CTranslate2#1757), so the sampled fall-backs gave another
transcript on every call in one process (an align of one recording gave 264, then 220 words timed).
Deterministic fall-backs (a wider beam, then no repeated 4-grams) come first, and when every fall-back
fails the repeatable decode is kept."""
import numpy as np

from tingshuo.asr.base import TranscribeOptions


def _words(engine, chunk, options):
    res = engine.transcribe_batch([chunk], options, ["en"])
    return [(w.text, round(w.start_s, 2)) for s in res[0].segments for w in (s.words or ())]


def test_a_chunk_every_decode_fails_gets_the_same_words_on_every_call(transcriber, data_dir):
    from tingshuo.audio import load_audio

    chunk = np.asarray(load_audio(data_dir / "jfk.wav").samples, np.float32)
    engine = transcriber.engine
    # every decode fails the log-probability check, so every fall-back runs, sampled ones included
    options = TranscribeOptions(language="en", beam_size=1, word_timestamps=True, log_prob_threshold=0.0,
                                no_speech_threshold=1.0)
    calls = []
    generate = type(engine)._generate

    def spy(self, *args):  # encoded, prompts, options, temperature, frames, beam_size[, no_repeat_ngram_size]
        calls.append((args[3], args[5], args[6] if len(args) > 6 else 0))
        return generate(self, *args)

    type(engine)._generate = spy
    try:
        runs = [_words(engine, chunk, options) for _ in range(3)]
    finally:
        type(engine)._generate = generate
    assert runs[0] and runs[0] == runs[1] == runs[2]
    first_sampled = next(k for k, c in enumerate(calls) if c[0] > 0)
    assert (0.0, 5, 0) in calls[:first_sampled] and (0.0, 5, 4) in calls[:first_sampled]
