"""Pausing Python's garbage collector while layers record a large graph.

Each primitive allocates a few tracked objects; with a long Python loop (an unrolled RNN) the
collector's passes over the growing graph cost as much as the ops themselves. The graph holds no
reference cycles, so nothing is lost by collecting afterwards.
"""
import contextlib
import gc
import threading

__all__ = ["gc_paused"]

_gc_lock = threading.Lock()
_gc_pauses = 0             # threads (and nested calls) inside gc_paused() now
_gc_was_enabled = False    # whether the collector ran when the first of them entered


@contextlib.contextmanager
def gc_paused():
    """Pause Python's cyclic garbage collector while a large graph is recorded.

    The collector is one per process: it stays paused while any thread is inside, and the state
    found by the first thread to enter is restored by the last one to leave.
    """
    global _gc_pauses, _gc_was_enabled
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()
