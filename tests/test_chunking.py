from collections import deque

import numpy as np

from tingshuo.asr.chunking import ChunkPlan, Piece, SpeechRegions, chunk_audio, pack
from tingshuo.audio.io import load_audio
from tingshuo.audio.vad import SileroVAD, VADOptions


def test_plan_maps_chunk_time_back_to_file_time():
    plan = ChunkPlan(((16000, 48000, 0), (80000, 96000, 0)))  # 1-3 s and 5-6 s of the file
    assert plan.n_samples == 48000
    assert plan.to_original(0.5) == 1.5
    assert plan.to_original(2.0) == 5.0  # the start of the second region
    assert plan.to_original(2.0, is_end=True) == 3.0  # an end on the boundary stays in the first
    assert plan.to_original(2.5) == 5.5
    assert plan.to_original(9.0) == 6.0  # clamped


def test_plan_pieces_give_back_the_audio():
    samples = np.arange(48000, dtype=np.float32)
    plan = ChunkPlan(((16000, 48000, 0), (80000, 96000, 0)))
    pieces = plan.pieces(1.5, 2.5, samples)
    assert [(p.start, p.end, p.retries) for p in pieces] == [(40000, 48000, 1), (80000, 88000, 1)]
    assert pieces[1].samples[0] == 32000


def test_pack_respects_the_limit_and_splits_long_pieces():
    q = deque([Piece(0, np.ones(10, np.float32)), Piece(20, np.ones(5, np.float32)), Piece(40, np.ones(30, np.float32))])
    plan, s = pack(q, 16)
    assert plan.regions == ((0, 10, 0), (20, 25, 0)) and s.size == 15
    plan, s = pack(q, 16)
    assert plan.regions == ((40, 56, 0),)
    plan, s = pack(q, 16)
    assert plan.regions == ((56, 70, 0),) and not q


def test_streaming_regions_match_the_whole_file(data_dir):
    a = load_audio(data_dir / "jfk.wav").samples
    long = np.concatenate([a, np.zeros(16000, np.float32), a, a])
    vad = SileroVAD()
    opts = VADOptions(min_silence_s=0.3, speech_pad_s=0.3)
    whole = chunk_audio(long, vad, 20.0, opts)
    regions = SpeechRegions(vad, opts, 20.0)
    streamed = []
    for i in range(0, long.size, 7 * 16000):
        streamed += regions.push(long[i:i + 7 * 16000])
    streamed += regions.finish()
    joined = [p for _, p in whole]
    assert sum(x.size for x in joined) == sum(p.samples.size for p in streamed)
    assert all(plan.n_samples <= 20 * 16000 for plan, _ in whole)
    # regions never overlap and stay in order
    ends = [(p.start, p.end) for p in streamed]
    assert all(b[0] >= a[1] for a, b in zip(ends, ends[1:]))


def test_no_vad_keeps_every_sample():
    regions = SpeechRegions(None, window_s=2.0)
    x = np.arange(5 * 16000, dtype=np.float32)
    pieces = regions.push(x[:50000]) + regions.push(x[50000:]) + regions.finish()
    assert np.array_equal(np.concatenate([p.samples for p in pieces]), x)
    assert [p.samples.size for p in pieces] == [32000, 32000, 16000]
