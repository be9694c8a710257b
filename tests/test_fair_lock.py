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
