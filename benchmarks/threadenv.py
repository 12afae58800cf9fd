"""Thread settings for the benchmarks, applied BEFORE NumPy or any framework is imported.

Every framework gets the same number of compute threads (one by default), so that a benchmark
compares implementations, not how many cores each library grabs. Only the standard library is
imported here.
"""
import os
import sys

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "MINIRNN_BLAS_THREADS",
               "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def set_thread_env(threads):
    """Set the environment so that NumPy/OpenBLAS, minirnn, PyTorch, TensorFlow and XLA (JAX) use
    `threads` compute threads. Must run before any of them is imported; says so if one already is.
    OPENBLAS_CORETYPE and other settings already in the environment are left as they are."""
    loaded = [m for m in ("numpy", "torch", "tensorflow", "jax") if m in sys.modules]
    if loaded:
        raise RuntimeError(f"set_thread_env must run before importing {loaded}")
    n = str(int(threads))
    for var in THREAD_VARS:
        os.environ[var] = n
    # XLA (JAX): no multi-threaded Eigen, one intra-op thread (the recipe JAX's issue tracker gives)
    xla = os.environ.get("XLA_FLAGS", "")
    if threads == 1 and "xla_cpu_multi_thread_eigen" not in xla:
        xla = (xla + " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1").strip()
    os.environ["XLA_FLAGS"] = xla
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")    # TF's start-up chatter
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")  # keras 3: the TF peer is TF
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    return threads


def pin_cpus(n):
    """Restrict this process, and every thread it starts later, to n CPUs (Linux); returns the
    CPUs chosen, or None where affinity cannot be set. Call it before any library starts a thread
    pool: pools sized from the CPU count (XLA's, whose thread settings jaxlib no longer honours
    fully) then get n threads, and no framework can compute on more than n cores whatever it
    starts. The last n allowed CPUs are taken (CPU 0 tends to carry more interrupts)."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    chosen = set(allowed[-n:]) if 0 < n < len(allowed) else set(allowed)
    os.sched_setaffinity(0, chosen)
    return sorted(chosen)


def repo_root():
    """The checkout this file lies in; put first on sys.path so its minirnn is the one measured."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if root not in sys.path:
        sys.path.insert(0, root)
    return root
