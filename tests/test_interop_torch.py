"""minirnn.interop against PyTorch's own numbers (tests/fixtures/torch_rnn.npz, made by
tests/fixtures/make_torch_fixtures.py with real PyTorch): outputs, final states and gradients of
layers loaded with from_torch, the state_dicts to_torch gives back, and every refused input.

NumPy only; one optional test runs PyTorch in a subprocess when a virtual environment with it exists
(/tmp/venv-torch, or the python named by MINIRNN_TORCH_PYTHON).
"""
import os
import pathlib
import subprocess
import textwrap

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minirnn
from minirnn import interop, ops
from minirnn.layers import GRU, LSTM, Bidirectional, SimpleRNN
from minirnn.tensor import Tensor

FIXTURE_PATH = pathlib.Path(__file__).parent / "fixtures" / "torch_rnn.npz"
with np.load(FIXTURE_PATH, allow_pickle=False) as _file:
    FIXTURE = dict(_file)

SEQ = {"return_sequences": True, "return_state": True}
CELLS = {"RNN_TANH": (SimpleRNN, {"activation": "tanh"}), "RNN_RELU": (SimpleRNN, {"activation": "relu"}),
         "LSTM": (LSTM, {}), "GRU": (GRU, {})}
CASES = sorted({key.split("/")[0] for key in FIXTURE})


def fixture(case, name):
    return FIXTURE[f"{case}/{name}"]


def state_dict(case):
    prefix = f"{case}/state/"
    return {key[len(prefix):]: value for key, value in FIXTURE.items() if key.startswith(prefix)}


def layers_for(case, **options):
    """Unbuilt minirnn layers of the fixture case's kind: a list, one per PyTorch layer."""
    _, hidden, num_layers, bidirectional, bias = (int(v) for v in fixture(case, "config"))
    cell, kwargs = CELLS[str(fixture(case, "mode"))]
    kwargs = {**kwargs, **SEQ, "use_bias": bool(bias), **options}

    def one():
        return Bidirectional(cell(hidden, **kwargs)) if bidirectional else cell(hidden, **kwargs)
    return [one() for _ in range(num_layers)]


def loaded(case, **options):
    layers = layers_for(case, **options)
    nonlinearity = {"RNN_TANH": "tanh", "RNN_RELU": "relu"}.get(str(fixture(case, "mode")))
    interop.from_torch(layers if len(layers) > 1 else layers[0], state_dict(case),
                       nonlinearity=nonlinearity)
    return layers


def run(layers, x):
    """PyTorch's (out, h_n, c_n) from minirnn layers: each returns its sequence and final states
    (forward direction's, then backward's)."""
    h_n, c_n = [], []
    for layer in layers:
        result = layer(x)
        x, states = result[0], result[1:]
        cell = layer.forward_layer if isinstance(layer, Bidirectional) else layer
        h_n += states[::cell.n_states]
        if cell.n_states == 2:  # an LSTM's states come as h, c per direction
            c_n += states[1::2]
    return x, ops.stack(h_n, axis=0), (ops.stack(c_n, axis=0) if c_n else None)


def directions(layers):
    """(layer index, key suffix, recurrent layer) of each PyTorch direction."""
    for k, layer in enumerate(layers):
        if isinstance(layer, Bidirectional):
            yield k, "", layer.forward_layer
            yield k, "_reverse", layer.backward_layer
        else:
            yield k, "", layer


def torch_rows(cell, array):
    """Keras's gate blocks along axis 0 in PyTorch's order: GRU z, r, h -> r, z, n; LSTM i, f, c,
    o and SimpleRNN's one block unchanged."""
    if not isinstance(cell, GRU):
        return array
    H = cell.units
    return array[np.r_[H:2 * H, 0:H, 2 * H:3 * H]]


def torch_grads(layers):
    """minirnn's weight gradients in PyTorch's layout: the kernels transposed and reordered; a
    SimpleRNN's or LSTM's one bias is added to both of PyTorch's, so both get its gradient."""
    grads = {}
    for k, suffix, cell in directions(layers):
        grads[f"weight_ih_l{k}{suffix}"] = torch_rows(cell, cell.kernel.grad.T)
        grads[f"weight_hh_l{k}{suffix}"] = torch_rows(cell, cell.recurrent_kernel.grad.T)
        if cell.use_bias:
            bias = cell.bias.grad
            b_ih, b_hh = (bias[0], bias[1]) if isinstance(cell, GRU) else (bias, bias)
            grads[f"bias_ih_l{k}{suffix}"] = torch_rows(cell, b_ih)
            grads[f"bias_hh_l{k}{suffix}"] = torch_rows(cell, b_hh)
    return grads


# -- from_torch reproduces PyTorch ---------------------------------------------------------------

PATHS = {"fast": {}, "reference": {"bptt": "reference"}, "unrolled": {"unroll": True}}


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("case", CASES)
def test_from_torch_reproduces_outputs_and_final_states(case, path, float64):
    out, h_n, c_n = run(loaded(case, **PATHS[path]), fixture(case, "x"))
    np.testing.assert_allclose(out.data, fixture(case, "out"), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(h_n.data, fixture(case, "h_n"), rtol=1e-10, atol=1e-14)
    if str(fixture(case, "mode")) == "LSTM":
        np.testing.assert_allclose(c_n.data, fixture(case, "c_n"), rtol=1e-10, atol=1e-14)
    else:
        assert c_n is None


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("case", CASES)
def test_from_torch_reproduces_gradients(case, path, float64):
    layers = loaded(case, **PATHS[path])
    x = Tensor(fixture(case, "x"), requires_grad=True)
    out, h_n, c_n = run(layers, x)
    loss = (out * fixture(case, "P")).sum() + (h_n * fixture(case, "Q")).sum()
    if c_n is not None:
        loss = loss + (c_n * fixture(case, "R")).sum()
    loss.backward()
    np.testing.assert_allclose(x.grad, fixture(case, "grad_x"), rtol=1e-9, atol=1e-12)
    grads = torch_grads(layers)
    assert sorted(grads) == sorted(state_dict(case))
    for key, grad in grads.items():
        np.testing.assert_allclose(grad, fixture(case, f"grad/{key}"), rtol=1e-9, atol=1e-12,
                                   err_msg=key)


def test_from_torch_takes_the_module_itself_and_torch_like_tensors(float64):
    """Tensors are read through .detach().cpu().numpy(); a module through .state_dict() and .mode."""
    class FakeTensor:
        def __init__(self, array):
            self.array = array

        def detach(self):
            return self

        def cpu(self):
            return self

        def numpy(self):
            return self.array

    class FakeModule:
        mode = "RNN_RELU"

        def state_dict(self):
            return {k: FakeTensor(v) for k, v in state_dict("rnn_relu").items()}

    layer = interop.from_torch(layers_for("rnn_relu")[0], FakeModule())
    out = layer(fixture("rnn_relu", "x"))[0]
    np.testing.assert_allclose(out.data, fixture("rnn_relu", "out"), rtol=1e-10, atol=1e-14)


def test_from_torch_loads_a_built_layer_and_casts_to_its_dtype():
    layer = LSTM(4, **SEQ)  # float32 by default
    layer.build((None, None, 3))
    assert interop.from_torch(layer, state_dict("lstm")) is layer
    assert layer.kernel.dtype == np.float32
    np.testing.assert_allclose(layer.kernel.data, state_dict("lstm")["weight_ih_l0"].T, rtol=1e-7)
    out = layer(fixture("lstm", "x"))[0]
    np.testing.assert_allclose(out.data, fixture("lstm", "out"), rtol=1e-5, atol=1e-6)


# -- to_torch gives PyTorch's arrays back ---------------------------------------------------------

@pytest.mark.parametrize("case", CASES)
def test_to_torch_returns_the_fixture_weights(case, float64):
    layers = loaded(case)
    state = interop.to_torch(layers if len(layers) > 1 else layers[0])
    expected = state_dict(case)
    assert list(state) == list(expected)  # PyTorch's order: named_parameters() in the fixture
    for key, array in state.items():
        assert isinstance(array, np.ndarray) and array.dtype == np.float64, key
        assert array.flags.c_contiguous and all(s >= 0 for s in array.strides), key
        assert array.shape == expected[key].shape, key
    gru = str(fixture(case, "mode")) == "GRU"
    for key in expected:
        if key.startswith("weight_") or gru:
            np.testing.assert_array_equal(state[key], expected[key], err_msg=key)
        elif key.startswith("bias_ih"):  # one bias in Keras: only the sum is determined
            hh = key.replace("bias_ih", "bias_hh")
            np.testing.assert_allclose(state[key] + state[hh], expected[key] + expected[hh],
                                       rtol=1e-15, atol=1e-16, err_msg=key)
            np.testing.assert_array_equal(state[hh], 0.0)


def test_to_torch_arrays_are_copies(float64):
    layer = loaded("gru")[0]
    state = interop.to_torch(layer)
    state["weight_ih_l0"][...] = 7.0
    assert not np.any(layer.kernel.data == 7.0)


@st.composite
def torch_like_stacks(draw):
    cell, kwargs = CELLS[draw(st.sampled_from(sorted(CELLS)))]
    units, width = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    num_layers, bidirectional = draw(st.integers(1, 3)), draw(st.booleans())
    use_bias, seed = draw(st.booleans()), draw(st.integers(0, 2**31 - 1))
    return cell, kwargs, units, width, num_layers, bidirectional, use_bias, seed


def make_stack(cell, kwargs, units, width, num_layers, bidirectional, use_bias):
    layers = []
    for k in range(num_layers):
        layer = cell(units, use_bias=use_bias, return_sequences=True,
                     bias_initializer="random_normal", **kwargs)
        layer = Bidirectional(layer) if bidirectional else layer
        layer.build((None, None, width if k == 0 else units * (2 if bidirectional else 1)))
        layers.append(layer)
    return layers


@given(torch_like_stacks())
def test_round_trip_gives_identical_weights(drawn):
    *shape, seed = drawn
    minirnn.set_random_seed(seed)
    original = make_stack(*shape)
    state = interop.to_torch(original if len(original) > 1 else original[0])
    gates, units = {SimpleRNN: 1, LSTM: 4, GRU: 3}[shape[0]], shape[2]
    assert state["weight_hh_l0"].shape == (gates * units, units)
    fresh = [type(layer).from_config(layer.get_config()) for layer in original]  # unbuilt
    interop.from_torch(fresh if len(fresh) > 1 else fresh[0], state)
    for a, b in zip(original, fresh):
        assert len(a.get_weights()) == len(b.get_weights())
        for wa, wb in zip(a.get_weights(), b.get_weights()):
            np.testing.assert_array_equal(wa, wb)


# -- refused input: a clear ValueError, and the layer as it was ----------------------------------

def snapshot(layers):
    return [(layer.built, [w.copy() for w in layer.get_weights()]) for layer in layers]


def assert_refused(layers, source, *fragments, error=ValueError, **kwargs):
    before = snapshot(layers)
    with pytest.raises(error) as info:
        interop.from_torch(layers if len(layers) > 1 else layers[0], source, **kwargs)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    after = snapshot(layers)
    assert [b for b, _ in before] == [b for b, _ in after]
    for (_, weights_before), (_, weights_after) in zip(before, after):
        assert len(weights_before) == len(weights_after)
        for wb, wa in zip(weights_before, weights_after):
            np.testing.assert_array_equal(wb, wa)
    return message


def built(layers, width=3):
    for layer in layers:
        layer.build((None, None, width))
        width = sum(w.shape[0] for w in layer.weights if w.name.endswith("recurrent_kernel"))
    return layers


@pytest.mark.parametrize("make", [layers_for, lambda case: built(layers_for(case))],
                         ids=["unbuilt", "built"])
def test_missing_and_unexpected_keys_are_refused(make):
    state = state_dict("lstm")
    del state["bias_hh_l0"]
    assert_refused(make("lstm"), state, "missing keys ['bias_hh_l0']", "expected the keys",
                   "got ['weight_ih_l0'")
    state = {**state_dict("lstm"), "weight_hr_l0": np.zeros((4, 4))}
    assert_refused(make("lstm"), state, "unexpected keys ['weight_hr_l0']", "proj_size")


@pytest.mark.parametrize("key, shape, make, expected", [
    ("weight_ih_l0", (16, 2), lambda: built(layers_for("lstm")), "expects shape (16, 3)"),
    ("weight_ih_l0", (16,), lambda: layers_for("lstm"), "expects shape (16, input width)"),
    ("weight_ih_l0", (15, 3), lambda: layers_for("lstm"), "expects shape (16, 3)"),
    ("weight_hh_l0", (16, 5), lambda: layers_for("lstm"), "expects shape (16, 4)"),
    ("bias_ih_l0", (15,), lambda: built(layers_for("lstm")), "expects shape (16,)"),
    ("bias_hh_l0", (16, 1), lambda: layers_for("lstm"), "expects shape (16,)"),
])
def test_wrong_shapes_are_refused(key, shape, make, expected):
    state = state_dict("lstm")
    state[key] = np.zeros(shape)
    assert_refused(make(), state, f"state_dict['{key}']", "LSTM", expected, f"got {shape}")


def test_another_cells_state_dict_is_refused_by_its_rows():
    message = assert_refused(layers_for("gru"), state_dict("lstm"), "state_dict['weight_ih_l0']",
                             "expects shape (12, 3)", "got (16, 3)")
    assert "an LSTM (4 gates), not of a GRU (3 gates)" in message
    assert_refused(layers_for("lstm"), state_dict("gru"), "expects shape (16, 3)", "got (12, 3)",
                   "a GRU (3 gates)")
    assert_refused(layers_for("rnn_tanh"), state_dict("lstm"), "expects shape (4, 3)",
                   "got (16, 3)")


def test_a_relu_rnn_is_refused_by_a_tanh_simple_rnn():
    assert_refused(layers_for("rnn_tanh"), state_dict("rnn_relu"), "nn.RNN(nonlinearity='relu')",
                   "activation 'tanh'", nonlinearity="relu")

    class Module:
        mode = "RNN_RELU"

        def state_dict(self):
            return state_dict("rnn_relu")
    assert_refused(layers_for("rnn_tanh"), Module(), "nn.RNN(nonlinearity='relu')", "'tanh'")
    Module.mode = "LSTM"
    assert_refused(layers_for("rnn_tanh"), Module(), "nn.LSTM", "SimpleRNN")
    assert_refused(layers_for("lstm"), state_dict("lstm"), "`nonlinearity`", nonlinearity="relu")
    assert_refused(layers_for("rnn_tanh"), state_dict("rnn_tanh"), "'tanh' or 'relu'",
                   nonlinearity="sigmoid")


def test_bias_settings_must_agree_both_ways():
    with_bias = state_dict("gru")
    assert_refused(layers_for("gru_nobias"), with_bias, "unexpected keys ['bias_ih_l0', "
                   "'bias_hh_l0']", "use_bias=False")
    assert_refused(layers_for("gru"), state_dict("gru_nobias"), "missing keys ['bias_ih_l0', "
                   "'bias_hh_l0']", "bias=False")


def test_a_gru_that_resets_before_the_matmul_cannot_take_a_torch_gru():
    assert_refused([GRU(4, reset_after=False)], state_dict("gru"), "reset_after=False",
                   "reset_after=True")
    with pytest.raises(ValueError, match="reset_after=False"):
        interop.to_torch(built([GRU(4, reset_after=False)])[0])


def test_directions_and_layer_counts_must_agree():
    assert_refused(layers_for("lstm"), state_dict("lstm_bidirectional"),
                   "unexpected keys ['weight_ih_l0_reverse'", "Bidirectional")
    assert_refused(layers_for("lstm_bidirectional"), state_dict("lstm"),
                   "missing keys ['weight_ih_l0_reverse'", "bidirectional=True")
    assert_refused(layers_for("lstm"), state_dict("lstm_2layer"), "unexpected keys "
                   "['weight_ih_l1'", "list of layers")
    assert_refused(layers_for("lstm_2layer") + layers_for("lstm"), state_dict("lstm_2layer"),
                   "missing keys ['weight_ih_l2'")


def test_cells_torch_has_no_counterpart_for_are_refused():
    assert_refused([SimpleRNN(4, activation="sigmoid")], state_dict("rnn_tanh"), "'sigmoid'",
                   "'tanh' or 'relu'")
    assert_refused([LSTM(4, recurrent_activation="hard_sigmoid")], state_dict("lstm"),
                   "'hard_sigmoid'", "'tanh' and 'sigmoid'")
    assert_refused([LSTM(4), GRU(4)], state_dict("lstm_2layer"), "layer 1", "GRU")
    assert_refused([LSTM(4), LSTM(5)], state_dict("lstm_2layer"), "units=5")
    assert_refused([minirnn.layers.Dense(4)], state_dict("lstm"), "Dense", error=TypeError)


def test_a_stacked_layer_must_take_what_the_one_before_gives():
    layers = built(layers_for("lstm_2layer"))
    layers[1] = LSTM(4, **SEQ)
    layers[1].build((None, None, 5))
    assert_refused(layers, state_dict("lstm_2layer"), "layer 1", "width 5", "gives 4")
    summed = [Bidirectional(LSTM(4, **SEQ), merge_mode="sum"), Bidirectional(LSTM(4, **SEQ))]
    assert_refused(summed, {}, "merge_mode 'sum'", "concat")


def test_values_that_are_not_real_arrays_are_refused():
    state = state_dict("gru")
    state["weight_hh_l0"] = state["weight_hh_l0"].astype(complex)
    assert_refused(layers_for("gru"), state, "state_dict['weight_hh_l0']", "complex",
                   error=TypeError)
    assert_refused(layers_for("gru"), [("weight_ih_l0", 1)], "mapping", "list", error=TypeError)


def test_to_torch_refuses_what_torch_cannot_hold():
    with pytest.raises(ValueError, match="not built"):
        interop.to_torch(LSTM(4))
    with pytest.raises(ValueError, match="non-empty list"):
        interop.to_torch([])
    with pytest.raises(ValueError, match="'relu'.*'tanh' and 'sigmoid'"):
        interop.to_torch(built([LSTM(4, activation="relu")])[0])
    with pytest.raises(ValueError, match="layer 1"):
        interop.to_torch(built([GRU(4), LSTM(4)]))
    with pytest.raises(TypeError, match="Dense"):
        interop.to_torch(minirnn.layers.Dense(3))


# -- optional: PyTorch itself loads to_torch's dict ------------------------------------------------

TORCH_PYTHON = os.environ.get("MINIRNN_TORCH_PYTHON", "/tmp/venv-torch/bin/python")

TORCH_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import torch
    data = np.load(sys.argv[1])
    for name, module in [("lstm", torch.nn.LSTM(3, 4, batch_first=True, bidirectional=True,
                                                dtype=torch.float64)),
                         ("gru", torch.nn.GRU(3, 4, num_layers=2, batch_first=True,
                                              dtype=torch.float64))]:
        prefix = name + "/state/"
        state = {k[len(prefix):]: torch.from_numpy(data[k]) for k in data.files if k.startswith(prefix)}
        module.load_state_dict(state)  # strict: every key, every shape
        out = module(torch.from_numpy(data["x"]))[0].detach().numpy()
        np.testing.assert_allclose(out, data[name + "/out"], rtol=1e-10, atol=1e-14)
    print("torch agrees")
""")


@pytest.mark.skipif(not os.path.exists(TORCH_PYTHON), reason=f"no PyTorch at {TORCH_PYTHON}")
def test_torch_loads_to_torch_state_dicts_and_computes_the_same(tmp_path, float64):
    minirnn.set_random_seed(3)
    x = np.random.default_rng(3).standard_normal((2, 5, 3))
    lstm = Bidirectional(LSTM(4, return_sequences=True, bias_initializer="random_normal"))
    grus = [GRU(4, return_sequences=True, bias_initializer="random_normal") for _ in range(2)]
    arrays = {"x": x, "lstm/out": lstm(x).data, "gru/out": grus[1](grus[0](x)).data}
    arrays.update({f"lstm/state/{k}": v for k, v in interop.to_torch(lstm).items()})
    arrays.update({f"gru/state/{k}": v for k, v in interop.to_torch(grus).items()})
    np.savez(tmp_path / "case.npz", **arrays)
    (tmp_path / "check.py").write_text(TORCH_SCRIPT)
    # PyTorch runs in its own process with a plain environment: nothing this test process (or
    # TensorFlow, loaded by other tests) has set may reach its libraries
    env = {key: os.environ[key] for key in ("PATH", "HOME", "TMPDIR") if key in os.environ}
    probe = subprocess.run([TORCH_PYTHON, "-c", "import torch"], capture_output=True, text=True,
                           timeout=300, env=env)
    if probe.returncode != 0:
        pytest.skip(f"PyTorch at {TORCH_PYTHON} does not import here: {probe.stderr[-300:]}")
    proc = subprocess.run([TORCH_PYTHON, str(tmp_path / "check.py"), str(tmp_path / "case.npz")],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "torch agrees" in proc.stdout


def test_minirnn_never_imports_torch():
    import ast
    import inspect
    tree = ast.parse(inspect.getsource(interop))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):  # "from . import x" names x; else the module
            names = [node.module] if node.module else [alias.name for alias in node.names]
            imported |= {name.split(".")[0] for name in names}
    assert imported <= {"collections", "numpy", "activations", "checks", "layers"}, imported
    assert minirnn.interop is interop
