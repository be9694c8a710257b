import numpy as np

from tingshuo.audio.io import load_audio


def test_partials_then_final_with_stream_times(transcriber, data_dir):
    from tingshuo.asr.streaming import StreamingRecognizer

    speech = load_audio(data_dir / "cathy_a0001.wav").samples
    stream = np.concatenate([np.zeros(16000, np.float32), speech, np.zeros(16000, np.float32),
                             load_audio(data_dir / "zh_aishell_S0724W0121.wav").samples,
                             np.zeros(12000, np.float32)])
    rec = StreamingRecognizer(transcriber.engine, partial_interval_s=0.5)
    events = []
    pcm16 = (stream * 32767).astype("<i2").tobytes()
    step = 3200 * 2  # 0.2 s of int16 bytes
    for i in range(0, len(pcm16), step):
        events += rec.accept(pcm16[i:i + step])
    events += rec.finish()
    kinds = [e.kind for e in events]
    assert kinds.count("speech_start") == 2 and kinds.count("final") == 2
    assert "partial" in kinds
    finals = [e for e in events if e.kind == "final"]
    assert "danger" in finals[0].text.lower() and finals[0].language == "en"
    assert 0.5 < finals[0].start_s < 1.3 and finals[0].end_s < 4.6
    assert finals[1].language == "zh" and finals[1].start_s > 4.5
    assert finals[0].segments and finals[0].segments[0].start_s >= finals[0].start_s
    assert finals[1].to_dict()["type"] == "final"


def _feed(rec, stream, step=3200):
    events = []
    for i in range(0, stream.size, step):
        events += rec.accept(stream[i:i + step])
    return events + rec.finish()


def test_speculative_finals_match_plain_ones(transcriber, data_dir):
    """Decoding ahead in the end-of-turn silence gives the same finals, from the decode made ahead."""
    from tingshuo.asr.streaming import StreamingRecognizer

    silence = np.zeros(16000, np.float32)
    stream = np.concatenate([silence, load_audio(data_dir / "cathy_a0001.wav").samples, silence,
                             load_audio(data_dir / "zh_aishell_S0724W0121.wav").samples, silence])
    runs = {}
    for speculate in (True, False):
        rec = StreamingRecognizer(transcriber.engine, partial_interval_s=0, speculate=speculate)
        finals = [e for e in _feed(rec, stream) if e.kind == "final"]
        rec.close()
        runs[speculate] = ([(e.text, e.start_s, e.end_s) for e in finals], rec.speculated)
    assert runs[True][0] == runs[False][0] and len(runs[True][0]) == 2
    assert runs[True][1] == 2 and runs[False][1] == 0


def test_speculation_is_dropped_when_the_caller_goes_on(transcriber, data_dir):
    """A pause shorter than the endpoint silence: the decode made in it must not become the final."""
    from tingshuo.asr.streaming import StreamingRecognizer

    from tingshuo.audio.vad import VADOptions, detect_speech

    first = load_audio(data_dir / "cathy_a0001.wav").samples
    first = first[:int(detect_speech(first, VADOptions(speech_pad_s=0.0))[-1][1] * 16000)]  # no trailing silence
    second = load_audio(data_dir / "zh_aishell_S0724W0121.wav").samples
    second = second[int(detect_speech(second, VADOptions(speech_pad_s=0.0))[0][0] * 16000):]  # nor leading
    stream = np.concatenate([np.zeros(8000, np.float32), first, np.zeros(int(0.4 * 16000), np.float32), second,
                             np.zeros(16000, np.float32)])

    rec = StreamingRecognizer(transcriber.engine, partial_interval_s=0,
                              vad_options=VADOptions(min_silence_s=0.8, speech_pad_s=0.2, max_speech_s=28.0))
    finals = [e for e in _feed(rec, stream, step=1600) if e.kind == "final"]
    rec.close()
    assert len(finals) == 1 and rec.speculated == 1  # the decode made in the last pause, not the first
    assert "danger" in finals[0].text.lower() and finals[0].end_s > (8000 + first.size) / 16000 + 1.0
