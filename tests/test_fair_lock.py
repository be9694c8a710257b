"""The recogniser's model lock is handed out in arrival order: a long align or transcription re-took a
plain lock the moment it let go, so a 1 s request waited 205 s behind a 5.5-minute align (qa5)."""
import threading
import time

import pytest

from tingshuo.util import FairLock


def _order(lock) -> list[str]:
    """A long request lets go of the lock and asks for it again at once while a short one waits."""
    order = []
    lock.acquire()

    def short_request():
        with lock:
            order.append("short")

    t = threading.Thread(target=short_request)
    t.start()
    time.sleep(0.1)  # the short request is waiting
    lock.release()
    lock.acquire()  # the long request's next batch
    order.append("long")
    lock.release()
    t.join(5)
    return order


def test_a_short_request_gets_the_model_between_two_batches_of_a_long_one():
    assert _order(FairLock()) == ["short", "long"]


def test_the_recogniser_and_the_aligner_share_one_fair_lock(transcriber):
    assert isinstance(transcriber.engine._lock, FairLock)
    assert _order(transcriber.engine._lock) == ["short", "long"]


def test_an_interrupted_or_wrong_release_is_one_error():
    lock = FairLock()
    with lock:
        assert lock.locked()
    assert not lock.locked()
    with pytest.raises(RuntimeError):
        lock.release()


def test_a_short_request_is_recognised_between_the_pieces_of_a_long_call(transcriber, data_dir):
    """One recognition call of 8 chunks held the model until its last chunk (8 x 30 s: a minute under load),
    so a short request waited for all of it. The call lets go of the model between pieces of audio."""
    import numpy as np

    from tingshuo.asr.base import TranscribeOptions
    from tingshuo.asr.whisper import PIECE_SAMPLES
    from tingshuo.audio import load_audio

    engine = transcriber.engine
    jfk = np.asarray(load_audio(data_dir / "jfk.wav").samples, np.float32)
    short = np.asarray(load_audio(data_dir / "cathy_a0001.wav").samples, np.float32)
    long_call = [jfk] * 8  # 88 s: more than one piece
    assert sum(c.size for c in long_call) > PIECE_SAMPLES
    options = TranscribeOptions(language="en")
    finished = {}

    def run(name, chunks):
        result = engine.transcribe_batch(chunks, options)
        finished[name] = (time.perf_counter(), result)

    long_thread = threading.Thread(target=run, args=("long", long_call))
    long_thread.start()
    deadline = time.perf_counter() + 60
    while not engine._lock.locked() and time.perf_counter() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # the long call is decoding its first piece
    run("short", [short])
    long_thread.join(600)
    assert set(finished) == {"long", "short"}
    assert finished["short"][0] < finished["long"][0]
    assert finished["short"][1][0].segments and all(r.segments for r in finished["long"][1])
