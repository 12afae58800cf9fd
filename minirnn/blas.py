"""How many threads NumPy's BLAS uses.

Recurrent layers multiply small matrices once per timestep; on a machine with few cores a second
BLAS thread adds synchronisation for no gain, and under load it stalls badly. minirnn therefore
sets NumPy's OpenBLAS to one thread when it is imported. Set the environment variable
MINIRNN_BLAS_THREADS=N to choose N instead, or MINIRNN_BLAS_THREADS=0 to leave BLAS alone.
"""
import ctypes
import os

import numpy as np

__all__ = ["set_blas_threads", "get_blas_threads"]

_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
            "openblas_set_num_threads64_", "openblas_set_num_threads")
_GETTERS = ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads",
            "openblas_get_num_threads64_", "openblas_get_num_threads")


def _openblas_libraries():
    """The OpenBLAS libraries loaded in this process (Linux: read from /proc/self/maps)."""
    np.dot(np.ones((2, 2)), np.ones((2, 2)))  # make sure NumPy's BLAS is loaded
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower()}
    except OSError:
        return []
    libraries = []
    for path in sorted(paths):
        try:
            libraries.append(ctypes.CDLL(path))
        except OSError:
            pass
    return libraries


def _call(names, *args):
    results = []
    for library in _openblas_libraries():
        for name in names:
            function = getattr(library, name, None)
            if function is not None:
                results.append(function(*args))
                break
    return results


def set_blas_threads(n):
    """Use n threads in NumPy's OpenBLAS; returns False where no OpenBLAS could be found."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"set_blas_threads expects a positive int; got {n!r}")
    return bool(_call(_SETTERS, ctypes.c_int(n)))


def get_blas_threads():
    """The thread count of NumPy's OpenBLAS, or None where it could not be found."""
    counts = _call(_GETTERS)
    return counts[0] if counts else None


def _apply_default():
    setting = os.environ.get("MINIRNN_BLAS_THREADS", "1")
    try:
        n = int(setting)
    except ValueError:
        raise ValueError(f"MINIRNN_BLAS_THREADS must be an integer; got {setting!r}") from None
    if n > 0:
        set_blas_threads(n)
