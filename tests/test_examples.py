"""Every example runs, at reduced size, and what it prints it claims is checked here."""
import importlib.util
import pathlib

import numpy as np
import pytest

import minirnn

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_example_is_tested():
    tested = {"addition", "keras_parity", "bptt_by_hand", "adding_problem", "char_rnn",
              "custom_layer", "custom_cell", "to_and_from_keras"}
    assert {p.stem for p in EXAMPLES.glob("*.py")} == tested | {"seq2seq_attention", "stateful_chunks"}


@pytest.mark.slow
def test_addition_predicts_sums_within_five_percent(capsys):
    relative = load("addition").main(["--epochs", "10", "--samples", "3000", "--timesteps", "6",
                                      "--units", "16", "--verbose", "0"])
    assert relative.mean() < 0.02, f"mean relative error {relative.mean():.2%}"
    assert np.mean(relative < 0.05) >= 0.95, f"only {np.mean(relative < 0.05):.1%} within 5%"
    assert "predictions within 5% of the true sum" in capsys.readouterr().out


def test_bptt_by_hand_equals_minirnn():
    assert load("bptt_by_hand").main() < 1e-10


def test_keras_parity_example_agrees_with_keras():
    from tf_helpers import import_tf
    import_tf()
    assert load("keras_parity").main(["--cell", "gru", "--float64"]) < 1e-9
    assert load("keras_parity").main(["--cell", "lstm"]) < 1e-5


def test_to_and_from_keras_loads_the_same_model_in_keras(tmp_path, capsys):
    from tf_helpers import import_tf
    import_tf()
    path = tmp_path / "digits.keras"
    differences = load("to_and_from_keras").main(["--epochs", "1", "--samples", "300",
                                                   "--out", str(path)])
    assert path.exists()
    assert differences["minirnn"] == 0.0
    assert differences["keras"] < 1e-5
    assert "keras.saving.load_model: Adam optimizer" in capsys.readouterr().out


def adding_problem_table(out):
    """{(cell, "init" or "trained"): share ||dL/dh_0|| / ||dL/dh_T-1||} from the printed table."""
    shares = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) > 2 and fields[0] in ("LSTM", "SimpleRNN") and fields[1] in ("init", "trained"):
            shares[fields[0], fields[1]] = float(fields[-1])
    return shares


@pytest.mark.slow
def test_adding_problem_shows_and_explains_the_vanishing_gradient(tmp_path, capsys):
    module = load("adding_problem")
    plot = tmp_path / "norms.png"
    results = module.main(["--timesteps", "60", "--samples", "3000", "--epochs", "15",
                           "--units", "16", "--verbose", "0", "--plot", str(plot)])
    assert results["LSTM"] * 10 < module.BASELINE_MSE, results
    assert results["SimpleRNN"] > 0.8 * module.BASELINE_MSE, results  # 60 steps are too many for it
    out = capsys.readouterr().out
    assert f"||dL/dh_t|| per timestep, {module.LOSS_TEXT}" in out
    for claim in ("At initialization both gradients shrink geometrically",
                  "The fresh SimpleRNN keeps more: its recurrent kernel starts orthogonal",
                  "After training the LSTM's share is", "(up from",
                  "mean forget gate of its most persistent unit",
                  "After training the SimpleRNN's share is", "(down from",
                  "the vanishing gradient, and why its test MSE stays",
                  "compare the shares, not the heights"):
        assert claim in out, claim
    shares = adding_problem_table(out)
    assert len(shares) == 4
    # at initialization both vanish, and (Keras's orthogonal recurrent kernel) the SimpleRNN less so
    assert shares["LSTM", "init"] < shares["SimpleRNN", "init"] < 1e-2
    # after training the LSTM carries the gradient across the sequence and the SimpleRNN does not
    assert shares["LSTM", "trained"] > 1e-2 > 1e-4 > shares["SimpleRNN", "trained"]
    assert shares["LSTM", "trained"] > 1e3 * shares["LSTM", "init"]
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_adding_problem_gradient_norms_match_hand_bptt():
    """The norms the example prints are dL/dh_t of the MSE: against a float64 NumPy BPTT of the
    same fresh SimpleRNN written out from its weights."""
    module = load("adding_problem")
    x, y = module.make_data(32, 15, np.random.default_rng(1))
    model = module.build_model(minirnn.layers.SimpleRNN, 15, 6, seed=2)
    norms = module.gradient_norms(model, x, y)
    kernel, recurrent, bias = (w.astype(np.float64) for w in model.layers[0].get_weights())
    dense_w, dense_b = (w.astype(np.float64) for w in model.layers[1].get_weights())
    h, hs = np.zeros((32, 6)), []
    for t in range(15):
        h = np.tanh(x[:, t] @ kernel + h @ recurrent + bias)
        hs.append(h)
    grad = (2.0 * (h @ dense_w + dense_b - y) / len(y)) @ dense_w.T   # dL/dh_T for L = mean (y_pred - y)^2
    expected = [None] * 15
    for t in reversed(range(15)):
        expected[t] = np.linalg.norm(grad, axis=1).mean()
        grad = (grad * (1.0 - hs[t] ** 2)) @ recurrent.T
    np.testing.assert_allclose(norms, expected, rtol=1e-5)
    assert all(w.grad is None for w in model.trainable_weights)  # measuring leaves no gradient behind


def test_adding_problem_figure_shares_a_log_axis():
    pytest.importorskip("matplotlib")
    module = load("adding_problem")
    norms = {"LSTM": {"init": np.array([1e-8, 1e-3]), "trained": np.array([1e-2, 1e-1])},
             "SimpleRNN": {"init": np.array([1e-4, 1e-2]), "trained": np.array([1e-20, 1e-2])}}
    fig = module.gradient_figure(norms, epochs=3)
    init_ax, trained_ax = fig.axes
    assert init_ax.get_yscale() == trained_ax.get_yscale() == "log"
    assert init_ax.get_shared_y_axes().joined(init_ax, trained_ax)
    assert init_ax.get_ylim() == trained_ax.get_ylim()
    assert "initialization" in init_ax.get_title() and "3 epochs" in trained_ax.get_title()
    for ax, moment in ((init_ax, "init"), (trained_ax, "trained")):
        assert [line.get_label() for line in ax.get_lines()] == ["LSTM", "SimpleRNN"]
        np.testing.assert_array_equal(ax.get_lines()[1].get_ydata(), norms["SimpleRNN"][moment])
    assert module.LOSS_TEXT in fig.get_suptitle()


@pytest.mark.slow
def test_char_rnn_learns_and_samples(tmp_path, capsys):
    text = tmp_path / "text.txt"
    text.write_text("the quick brown fox jumps over the lazy dog. " * 40, encoding="utf-8")
    history = load("char_rnn").main([str(text), "--epochs", "4", "--seq-length", "10",
                                     "--units", "32", "--sample-length", "20", "--verbose", "0"])
    losses = history.history["loss"]
    assert losses[-1] < 0.7 * losses[0]
    assert "sample after" in capsys.readouterr().out


def test_char_rnn_default_text_is_offline():
    text = load("char_rnn").default_text()
    assert "Beautiful is better than ugly." in text and len(text) > 2000


@pytest.mark.slow
def test_custom_layer_trains_and_passes_gradcheck():
    losses, worst = load("custom_layer").main(epochs=8)
    assert losses[-1] < 0.5 * losses[0]
    assert worst < 1e-6
    assert minirnn.floatx() == "float32"


def test_custom_cell_passes_check_cell_and_trains_like_its_ops_twin():
    errors, losses, ops_losses = load("custom_cell").main(epochs=8)
    assert errors["step autodiff of call"] < 1e-10 and errors["sequence"] < 1e-10
    assert losses[-1] < 0.5 * losses[0]
    np.testing.assert_allclose(losses, ops_losses, rtol=1e-5)


@pytest.mark.slow
def test_seq2seq_attention_beats_its_twin_without_attention(tmp_path, capsys):
    plot = tmp_path / "attention.png"
    results = load("seq2seq_attention").main(["--samples", "4000", "--epochs", "6", "--units", "48",
                                              "--verbose", "0", "--plot", str(plot)])
    assert results["with attention"] >= 0.95
    assert results["with attention"] > results["without attention"] + 0.1
    out = capsys.readouterr().out
    assert "exact-sequence accuracy" in out
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "matplotlib is not installed" in out
    else:
        assert plot.stat().st_size > 0


def test_seq2seq_data_is_reversal_with_teacher_forcing():
    module = load("seq2seq_attention")
    src, dec_in, target = module.make_data(50, np.random.default_rng(1))
    for s, d, t in zip(src, dec_in, target):
        digits = s[s != module.PAD]
        assert 5 <= len(digits) <= 12
        assert list(t[:len(digits)]) == list(digits[::-1]) and t[len(digits)] == module.EOS
        assert d[0] == module.GO and list(d[1:len(digits) + 1]) == list(digits[::-1])
    assert module.exact_accuracy(target, target) == 1.0
    wrong = target.copy()
    wrong[0, 0] = (wrong[0, 0] % 10) + 1
    assert module.exact_accuracy(wrong, target) == pytest.approx(1 - 1 / 50)


def test_stateful_chunks_carry_state_across_chunks(capsys):
    results = load("stateful_chunks").main(["--length", "3000", "--epochs", "3", "--truncate", "25"])
    assert results[True] < 0.7 * results[False], results
    assert "final loss: stateful" in capsys.readouterr().out
