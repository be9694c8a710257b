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
