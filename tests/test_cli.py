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


def bptt_table(out):
    """The printed table: {column label: {t: norm}}."""
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["t"])
    labels = lines[header].split()[1:]
    table = {label: {} for label in labels}
    for line in lines[header + 1:]:
        fields = line.split()
        if not fields or not fields[0].isdigit():
            break
        assert len(fields) == len(labels) + 1, line
        for label, value in zip(labels, fields[1:]):
            table[label][int(fields[0])] = float(value)
    return table


def has_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def test_bptt_command_shows_vanishing_gradient(capsys):
    assert main(["bptt", "--cell", "simple_rnn", "--timesteps", "30", "--rows", "30"]) == 0
    table = bptt_table(capsys.readouterr().out)
    norms = table["SimpleRNN(32)"]
    assert sorted(norms) == list(range(30))
    assert norms[29] == pytest.approx(np.sqrt(32), rel=1e-3)  # dL/dh_T: ones, for L = sum of h_T
    assert norms[0] < 1e-2 * norms[29]  # far-back steps get a vanishing share


def test_bptt_command_several_cells_one_table_and_one_png(capsys, tmp_path):
    if not has_matplotlib():
        pytest.skip("matplotlib is not installed")
    plot = tmp_path / "bptt.png"
    assert main(["bptt", "--cell", "simple_rnn,lstm,gru", "--timesteps", "20", "--rows", "5",
                 "--units", "8", "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    table = bptt_table(out)
    assert list(table) == ["SimpleRNN(8)", "LSTM(8)", "GRU(8)"]
    for label, norms in table.items():
        assert sorted(norms) == [0, 4, 8, 12, 16, 19], label
        assert norms[19] == pytest.approx(np.sqrt(8), rel=1e-3), label
    assert "L = sum of h_T" in out and f"plot written to {plot}" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bptt_cells_get_the_same_weights_whatever_else_is_listed():
    from minirnn.__main__ import bptt_norms
    alone = bptt_norms(["gru"], timesteps=6, units=4, features=3, batch=2, seed=3)["GRU(4)"]
    listed = bptt_norms(["lstm", "simple_rnn", "gru"], timesteps=6, units=4, features=3, batch=2,
                        seed=3)["GRU(4)"]
    np.testing.assert_array_equal(alone, listed)


def test_bptt_figure_shares_one_log_axis_between_the_cells():
    pytest.importorskip("matplotlib")
    from minirnn.__main__ import BPTT_LOSS, bptt_figure
    norms = {"SimpleRNN(4)": np.array([1e-9, 1e-5, 0.0, 2.0]), "LSTM(4)": np.array([1e-3, 1e-2, 1e-1, 2.0])}
    fig = bptt_figure(norms, f"title with {BPTT_LOSS}")
    assert len(fig.axes) == 1  # one axes: one y-range for every cell
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == list(norms)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(norms)
    np.testing.assert_array_equal(lines[1].get_ydata(), norms["LSTM(4)"])
    assert np.isnan(lines[0].get_ydata()[2])  # an underflowed 0 is left out, not drawn at a floor
    assert BPTT_LOSS in ax.get_title()
    assert "||dL/dh_t||" in ax.get_ylabel() and "timestep" in ax.get_xlabel()
    low, high = ax.get_ylim()
    assert low <= 1e-9 and high >= 2.0


def test_bptt_plot_without_matplotlib_says_so(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    assert main(["bptt", "--timesteps", "3", "--plot", str(tmp_path / "x.png")]) == 1
    assert "matplotlib is not installed" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("flag, value, expected", [
    ("--rows", "0", "positive integer"), ("--batch", "0", "positive integer"),
    ("--batch", "-2", "positive integer"), ("--timesteps", "0", "positive integer"),
    ("--units", "0", "positive integer"), ("--features", "-1", "positive integer"),
    ("--rows", "two", "positive integer"), ("--seed", "-1", "non-negative integer"),
    ("--cell", "lstm,foo", "simple_rnn, lstm, gru, rnn"), ("--cell", "lstm,,gru", "simple_rnn, lstm"),
    ("--cell", "gru,lstm,gru", "each cell once"), ("--cell", "rnn,simple_rnn", "each cell once"),
])
def test_bptt_command_rejects_bad_flags(capsys, flag, value, expected):
    with pytest.raises(SystemExit) as stopped:
        main(["bptt", flag, value])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}: expected" in err and expected in err and repr(value) in err


def test_bptt_command_stops_quietly_when_the_reader_goes():
    # far more output than a pipe holds, so the writer is still writing when the reader leaves
    process = subprocess.Popen([sys.executable, "-m", "minirnn", "bptt", "--cell", "simple_rnn",
                                "--timesteps", "4000", "--rows", "4000", "--units", "2",
                                "--batch", "1", "--features", "1"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = process.stdout.readline()
    process.stdout.close()
    err = process.stderr.read().decode()
    code = process.wait(timeout=120)
    assert first.startswith(b"SimpleRNN(2): 4000 timesteps")
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert code == 0


def test_console_script_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "minirnn", "bptt", "--cell", "gru",
                             "--timesteps", "5"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "GRU(32): 5 timesteps" in result.stdout


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
