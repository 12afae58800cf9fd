"""The command line (`python -m minirnn ...`), the BLAS thread setting and the memory setting."""
import functools
import os
import subprocess
import sys

import numpy as np
import pytest

import minirnn
from minirnn.__main__ import main


def test_gradcheck_command_lists_every_op_and_layer(capsys):
    assert main(["gradcheck", "--no-tf"]) == 0
    out = capsys.readouterr().out
    for name in ("matmul batched", "log_softmax", "einsum", "getitem (repeated)",
                 "LSTM (fused)", "GRU reset_after=False (unrolled)", "Bidirectional(LSTM)"):
        assert name in out
    assert "all gradients agree" in out
    errors = [float(line.split()[-1]) for line in out.splitlines() if line[:1].isalpha()
              and line.split()[-1][0].isdigit()]
    assert errors and max(errors) < 1e-6


def test_gradcheck_command_compares_with_tensorflow(capsys):
    from tf_helpers import import_tf
    import_tf()
    assert main(["gradcheck"]) == 0
    assert "vs TensorFlow" in capsys.readouterr().out


def test_bptt_command_shows_vanishing_gradient(capsys, tmp_path):
    plot = tmp_path / "bptt.png"
    code = main(["bptt", "--cell", "simple_rnn", "--timesteps", "30", "--rows", "30",
                 "--plot", str(plot)])
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.startswith("t=")]
    norms = {int(r[1]): float(r[2]) for r in rows}
    assert len(norms) == 30
    assert norms[0] < 1e-2 * norms[29]  # far-back steps get a vanishing share
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert code == 1
    else:
        assert code == 0 and plot.stat().st_size > 0


def test_bptt_command_rejects_bad_timesteps():
    with pytest.raises(SystemExit, match="--timesteps must be >= 1; got 0"):
        main(["bptt", "--timesteps", "0"])


def test_console_script_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "minirnn", "bptt", "--cell", "gru",
                             "--timesteps", "5"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "GRU(32), 5 timesteps" in result.stdout


def run_python(code, **env):
    """Run code in a fresh interpreter with env added: (return code, stdout stripped, stderr)."""
    result = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env},
                            capture_output=True, text=True, timeout=120)
    return result.returncode, result.stdout.strip(), result.stderr


def test_blas_runs_on_one_thread_by_default_and_can_be_changed():
    if minirnn.blas.get_blas_threads() is None:
        pytest.skip("NumPy's BLAS here is not OpenBLAS")
    assert minirnn.blas.get_blas_threads() == 1
    try:
        assert minirnn.blas.set_blas_threads(2)
        assert minirnn.blas.get_blas_threads() == min(2, os.cpu_count() or 1)  # capped at the cores
    finally:
        minirnn.blas.set_blas_threads(1)
    with pytest.raises(ValueError, match="positive int; got 0"):
        minirnn.blas.set_blas_threads(0)


def test_blas_environment_variable_is_honoured():
    if minirnn.blas.get_blas_threads() is None or (os.cpu_count() or 1) < 2:
        pytest.skip("needs NumPy's OpenBLAS and two cores")
    threads = functools.partial(run_python, "import minirnn; print(minirnn.blas.get_blas_threads())")

    assert threads(OPENBLAS_NUM_THREADS="2")[1] == "1"                       # the default: one
    assert threads(OPENBLAS_NUM_THREADS="2", MINIRNN_BLAS_THREADS="0")[1] == "2"  # left alone
    assert threads(OPENBLAS_NUM_THREADS="1", MINIRNN_BLAS_THREADS="2")[1] == "2"  # chosen
    code_, _, stderr = threads(MINIRNN_BLAS_THREADS="x")
    assert code_ != 0 and "MINIRNN_BLAS_THREADS must be an integer; got 'x'" in stderr


def test_freed_memory_is_kept_for_the_next_step():
    """After import, arrays freed and allocated again take no page faults (glibc keeps the memory);
    with MINIRNN_KEEP_FREED_MEMORY=0 they do, as glibc's defaults hand the memory back."""
    if not minirnn.allocator.keep_freed_memory():
        pytest.skip("the C library here is not glibc")
    code = ("import resource, numpy as np, minirnn\n"
            "def step():\n"                       # a training step's buffers, as glibc sees them
            "    arrays = [np.ones(3 * 2**18, np.float32) for _ in range(10)]\n"   # 10 x 3 MB, written
            "    del arrays\n"
            "step(); step()\n"
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
            "step()\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)\n")
    faults = functools.partial(run_python, code)
    code_, kept, stderr = faults()
    assert code_ == 0, stderr
    assert int(kept) < 100                                  # 30 MB is 7,680 pages of 4 KB
    code_, returned, stderr = faults(MINIRNN_KEEP_FREED_MEMORY="0")
    assert code_ == 0, stderr
    assert int(returned) > 5000
    code_, _, stderr = faults(MINIRNN_KEEP_FREED_MEMORY="yes")
    assert code_ != 0 and "MINIRNN_KEEP_FREED_MEMORY must be 0 or 1; got 'yes'" in stderr
