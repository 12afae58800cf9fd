"""SimpleRNN, LSTM, GRU (minirnn/layers/recurrent.py), without TensorFlow.

The fused path (one graph node, hand-written BPTT) against the unrolled path (primitive ops, BPTT by
the engine) for every cell and option, both against finite differences; a hand loop for SimpleRNN;
shared layers, dropout, the recorded BPTT gradients, stateful layers, and the errors bad input gets.
Everything runs in float64 (the `float64` fixture) unless a test says otherwise.
"""
import re

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

import minirnn
from minirnn import Tensor
from minirnn.layers import GRU, LSTM, SimpleRNN
from minirnn.random import set_random_seed

# name -> (class, constructor arguments)
CELLS = {
    "simple_tanh": (SimpleRNN, {}),
    "simple_relu": (SimpleRNN, {"activation": "relu"}),
    "lstm": (LSTM, {}),
    "gru": (GRU, {"reset_after": True}),
    "gru_reset_before": (GRU, {"reset_after": False}),
}

# name -> (layer arguments, call arguments); call arguments: initial_state (bool), mask (kind)
SEQ_STATE = {"return_sequences": True, "return_state": True}
OPTIONS = {
    "last_output": ({}, {}),
    "return_sequences": ({"return_sequences": True}, {}),
    "return_state": ({"return_state": True}, {}),
    "sequences_and_state": (SEQ_STATE, {}),
    "go_backwards": ({**SEQ_STATE, "go_backwards": True}, {}),
    "initial_state": (SEQ_STATE, {"initial_state": True}),
    "mask": (SEQ_STATE, {"mask": "ragged", "initial_state": True}),
    "mask_leading": (SEQ_STATE, {"mask": "leading"}),
    "mask_last_output": ({}, {"mask": "leading", "initial_state": True}),
    "mask_go_backwards": ({**SEQ_STATE, "go_backwards": True}, {"mask": "ragged",
                                                                "initial_state": True}),
    "zero_output_for_mask": ({**SEQ_STATE, "zero_output_for_mask": True}, {"mask": "leading"}),
    "no_bias": ({**SEQ_STATE, "use_bias": False}, {"initial_state": True}),
}

RTOL, ATOL = 1e-10, 1e-12   # fused vs unrolled: the same function, summed in another order


# -- helpers -------------------------------------------------------------------------------------

def n_states(cell):
    return 2 if CELLS[cell][0] is LSTM else 1


def make_layer(cell, units, **kwargs):
    cls, base = CELLS[cell]
    return cls(units, **{**base, **kwargs})


def random_weights(layer, rng, scale=0.5):
    """Random values (biases included) in the layer's own weight shapes."""
    return [scale * rng.standard_normal(w.shape) for w in layer.weights]


def make_mask(kind, batch, timesteps, rng):
    """ragged: random holes (some rows may be fully masked); leading: left padding, row b masked
    for its first (1, T-1, T, 0, ...)[b] steps, so fully masked leading steps and rows occur."""
    if kind is None:
        return None
    if kind == "ragged":
        return rng.random((batch, timesteps)) < 0.6
    leads = [1, timesteps - 1, timesteps, 0]
    return np.array([[t >= leads[b % 4] for t in range(timesteps)] for b in range(batch)])


class Problem:
    """One seeded problem: input, initial states, mask and weights for a cell and option."""

    def __init__(self, cell, option, batch, timesteps, features, units, seed):
        self.cell, self.option, self.units = cell, option, units
        self.layer_kwargs, call = OPTIONS[option]
        rng = np.random.default_rng(seed)
        self.x = rng.standard_normal((batch, timesteps, features))
        self.states0 = [0.5 * rng.standard_normal((batch, units)) for _ in range(n_states(cell))] \
            if call.get("initial_state") else []
        self.mask = make_mask(call.get("mask"), batch, timesteps, rng)
        probe = self.layer(unroll=False)
        probe(self.x[:, :1])
        self.weights = random_weights(probe, rng)
        self.seed = seed

    def layer(self, **kwargs):
        return make_layer(self.cell, self.units, **{**self.layer_kwargs, **kwargs})

    def built_layer(self, **kwargs):
        layer = self.layer(**kwargs)
        layer(self.x[:, :1])          # builds it (a stateful layer then forgets this call)
        layer.set_weights(self.weights)
        layer.reset_states()
        return layer

    def call(self, layer, x, *states):
        kwargs = {}
        if states:
            kwargs["initial_state"] = list(states)
        if self.mask is not None:
            kwargs["mask"] = self.mask
        return layer(x, **kwargs)


def as_list(outputs):
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def run(problem, layer, upstream_seed=1):
    """Forward, then backward with fixed random upstream gradients on every output.
    Returns (outputs, gradients [x, states0..., weights...], bptt_gradients)."""
    x = Tensor(problem.x.copy(), requires_grad=True)
    states = [Tensor(s.copy(), requires_grad=True) for s in problem.states0]
    for w in layer.weights:
        w.grad = None
    outputs = as_list(problem.call(layer, x, *states))
    rng = np.random.default_rng(upstream_seed)
    loss = sum((o * rng.standard_normal(o.shape)).sum() for o in outputs)
    loss.backward()
    grads = [np.zeros_like(t.data) if t.grad is None else t.grad for t in [x] + states + layer.weights]
    return [o.data for o in outputs], grads, layer.bptt_gradients


def assert_all_close(actual, expected, rtol=RTOL, atol=ATOL, what=""):
    assert len(actual) == len(expected), what
    for i, (a, e) in enumerate(zip(actual, expected)):
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=f"{what} [{i}]")


def assert_paths_agree(problem, fused, unrolled):
    out_f, grads_f, bptt_f = run(problem, fused)
    out_u, grads_u, bptt_u = run(problem, unrolled)
    assert_all_close(out_f, out_u, what="outputs and states")
    assert_all_close(grads_f, grads_u, what="gradients: x, initial states, weights")
    assert bptt_f is not None and bptt_u is not None
    np.testing.assert_allclose(bptt_f, bptt_u, rtol=RTOL, atol=ATOL, err_msg="bptt_gradients")


def gradcheck(problem, layer):
    fn = lambda x, *states: problem.call(layer, x, *states)  # noqa: E731
    minirnn.check_grads(fn, problem.x, *problem.states0, params=layer.weights, rtol=1e-6)


@st.composite
def dims(draw):
    """(batch, timesteps, features, units), small."""
    return (draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 3)),
            draw(st.integers(1, 3)))


seeds = st.integers(0, 2**32 - 1)


# -- fused == unrolled == finite differences ---------------------------------------------------------

@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("cell", CELLS)
@settings(max_examples=4)
@given(shape=dims(), seed=seeds)
def test_fused_matches_unrolled(float64, cell, option, shape, seed):
    problem = Problem(cell, option, *shape, seed)
    assert_paths_agree(problem, problem.built_layer(unroll=False), problem.built_layer(unroll=True))


@pytest.mark.parametrize("unroll", [False, True], ids=["fused", "unrolled"])
@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("cell", CELLS)
def test_gradients_match_finite_differences(float64, cell, option, unroll):
    problem = Problem(cell, option, batch=2, timesteps=4, features=2, units=2,
                      seed=list(OPTIONS).index(option))
    gradcheck(problem, problem.built_layer(unroll=unroll))


@pytest.mark.parametrize("option", ["last_output", "mask", "go_backwards"])
@pytest.mark.parametrize("cell", CELLS)
def test_data_input_gets_no_gradient_and_the_weights_the_same(float64, cell, option):
    """x as plain data (no gradient wanted): the fused VJP skips dL/dx, and every other gradient
    equals that of the unrolled path run on x requiring a gradient."""
    problem = Problem(cell, option, batch=3, timesteps=5, features=2, units=3, seed=5)
    _, want, _ = run(problem, problem.built_layer(unroll=True))
    layer = problem.built_layer(unroll=False)
    x = Tensor(problem.x.copy())
    states = [Tensor(s.copy(), requires_grad=True) for s in problem.states0]
    outputs = as_list(problem.call(layer, x, *states))
    rng = np.random.default_rng(1)
    sum((o * rng.standard_normal(o.shape)).sum() for o in outputs).backward()
    assert x.grad is None
    assert_all_close([t.grad for t in states + layer.weights], want[1:], what="states, weights")


@pytest.mark.parametrize("cell", ["lstm", "gru", "gru_reset_before"])
def test_gate_activation_applied_per_gate_or_to_the_whole_block_agrees(float64, cell):
    """The unrolled cells apply an elementwise gate activation to all gates in one call; any other
    callable (here sigmoid wrapped in a lambda, which could be anything) gate by gate. Both equal
    the fused path; hard_sigmoid checks a second elementwise activation."""
    for ract in ("sigmoid", "hard_sigmoid"):
        problem = Problem(cell, "sequences_and_state", batch=2, timesteps=4, features=2, units=3,
                          seed=2)
        fused = problem.built_layer(unroll=False, recurrent_activation=ract)
        assert_paths_agree(problem, fused, problem.built_layer(unroll=True, recurrent_activation=ract))
    wrapped = lambda x: minirnn.ops.sigmoid(x)  # noqa: E731
    assert wrapped not in minirnn.activations.BLOCKWISE
    problem = Problem(cell, "sequences_and_state", batch=2, timesteps=4, features=2, units=3, seed=2)
    assert_paths_agree(problem, problem.built_layer(unroll=False),
                       problem.built_layer(unroll=True, recurrent_activation=wrapped))


def structured_mask():
    """(3, 12): steps where every sequence runs (0-3, 10-11), where some do (4-6, 9) and where none
    does (7-8)."""
    mask = np.zeros((3, 12), bool)
    mask[:, :4] = mask[:, 10:] = True
    mask[[0, 2], 4:7] = True
    mask[1, 9] = True
    return mask


MASKED_VARIANTS = {
    "sequences_and_state": {}, "last_output": {"return_sequences": False},
    "go_backwards": {"go_backwards": True}, "zero_output_for_mask": {"zero_output_for_mask": True},
    "truncate_bptt": {"truncate_bptt": 3}, "recompute": {"recompute": 2},
    "recompute_truncate": {"recompute": 5, "truncate_bptt": 4},
}


@pytest.mark.parametrize("variant", MASKED_VARIANTS)
@pytest.mark.parametrize("cell", CELLS)
def test_masked_sequence_matches_unrolled(float64, cell, variant):
    problem = Problem(cell, "mask", batch=3, timesteps=12, features=2, units=3, seed=4)
    problem.mask = structured_mask()
    problem.layer_kwargs = {**problem.layer_kwargs, **MASKED_VARIANTS[variant]}
    assert_paths_agree(problem, problem.built_layer(unroll=False), problem.built_layer(unroll=True))


def test_each_masked_step_shows_the_last_step_its_sequence_ran():
    shown = minirnn.layers.fused._last_run(np.swapaxes(structured_mask(), 0, 1))
    np.testing.assert_array_equal(shown.T, [
        [0, 1, 2, 3, 4, 5, 6, 6, 6, 6, 10, 11],
        [0, 1, 2, 3, 3, 3, 3, 3, 3, 9, 10, 11],
        [0, 1, 2, 3, 4, 5, 6, 6, 6, 6, 10, 11]])
    leading = np.array([[False, False, True, False]]).T          # (T, B): nothing ran at first
    np.testing.assert_array_equal(minirnn.layers.fused._last_run(leading).ravel(), [-1, -1, 2, 2])


def _relu_margin(problem):
    """Smallest |pre-activation| of a SimpleRNN(relu) run without mask (finite differences need
    every pre-activation away from the kink)."""
    w_x, w_h, b = problem.weights
    h = problem.states0[0] if problem.states0 else np.zeros((problem.x.shape[0], problem.units))
    margin = np.inf
    for t in range(problem.x.shape[1]):
        z = problem.x[:, t] @ w_x + h @ w_h + b
        margin = min(margin, np.abs(z).min())
        h = np.maximum(z, 0)
    return margin


@pytest.mark.parametrize("cell", CELLS)
@settings(max_examples=3)
@given(shape=dims(), seed=seeds)
def test_gradients_match_finite_differences_any_shape(float64, cell, shape, seed):
    batch, timesteps, features, units = shape
    problem = Problem(cell, "initial_state", batch, min(timesteps, 3), min(features, 2),
                      min(units, 2), seed)
    if cell == "simple_relu":
        assume(_relu_margin(problem) > 1e-3)
    gradcheck(problem, problem.built_layer(unroll=False))


# -- stateful ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("cell", CELLS)
def test_stateful_fused_matches_unrolled_over_two_batches(float64, cell):
    problem = Problem(cell, "sequences_and_state", batch=2, timesteps=6, features=2, units=2, seed=3)
    first, second = problem.x[:, :3], problem.x[:, 3:]
    layers = [problem.built_layer(unroll=unroll, stateful=True) for unroll in (False, True)]
    for layer in layers:
        layer(first)
    np.testing.assert_allclose(layers[0].states, layers[1].states, rtol=RTOL, atol=ATOL)
    problem.x = second
    assert_paths_agree(problem, *layers)
    np.testing.assert_allclose(layers[0].states, layers[1].states, rtol=RTOL, atol=ATOL)
    for layer in layers:   # gradients of the second batch, from the first batch's final state
        carried = [s.copy() for s in layer.states]

        def second_batch(x, layer=layer, carried=carried):
            layer.reset_states(carried)
            return layer(x)
        minirnn.check_grads(second_batch, second, params=layer.weights, rtol=1e-6)


@pytest.mark.parametrize("unroll", [False, True], ids=["fused", "unrolled"])
@pytest.mark.parametrize("cell", CELLS)
def test_stateful_continues_from_the_previous_batch(float64, cell, unroll):
    problem = Problem(cell, "sequences_and_state", batch=3, timesteps=7, features=2, units=3, seed=4)
    whole = as_list(problem.built_layer(unroll=unroll)(problem.x))
    layer = problem.built_layer(unroll=unroll, stateful=True)
    parts = [as_list(layer(problem.x[:, a:b])) for a, b in ((0, 3), (3, 4), (4, 7))]
    np.testing.assert_allclose(np.concatenate([p[0].data for p in parts], axis=1), whole[0].data,
                               rtol=RTOL, atol=ATOL)
    for state, final, carried in zip(parts[-1][1:], whole[1:], layer.states):
        np.testing.assert_allclose(state.data, final.data, rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(carried, final.data, rtol=RTOL, atol=ATOL)

    layer.reset_states()   # back to zeros: the next batch is processed as if it were the first
    assert layer.states is None or all(not np.any(s) for s in layer.states)
    again = as_list(layer(problem.x[:, :3]))
    assert_all_close([o.data for o in again], [o.data for o in parts[0]], rtol=0, atol=0)


# -- SimpleRNN by hand ---------------------------------------------------------------------------

@pytest.mark.parametrize("unroll", [False, True], ids=["fused", "unrolled"])
def test_simple_rnn_matches_a_hand_loop(float64, unroll):
    x = np.arange(1.0, 7.0).reshape(1, 6, 1) / 6.0
    layer = SimpleRNN(4, return_sequences=True, return_state=True, unroll=unroll)
    seq, state = layer(x)
    w_x, w_h, b = layer.get_weights()
    assert (w_x.shape, w_h.shape, b.shape) == ((1, 4), (4, 4), (4,))
    h = np.zeros((1, 4))
    for t in range(6):
        h = np.tanh(x[:, t] @ w_x + h @ w_h + b)
        np.testing.assert_allclose(seq.data[:, t], h, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(state.data, h, rtol=1e-12, atol=1e-14)


def test_simple_rnn_parameter_count():
    layer = SimpleRNN(5)
    layer(np.zeros((2, 4, 3)))
    assert layer.count_params() == 3 * 5 + 5 * 5 + 5 == 45


@pytest.mark.parametrize("cell,count", [("lstm", 4 * (3 * 5 + 5 * 5 + 5)),
                                        ("gru", 3 * (3 * 5 + 5 * 5) + 2 * 3 * 5),
                                        ("gru_reset_before", 3 * (3 * 5 + 5 * 5 + 5))])
def test_gated_parameter_counts(cell, count):
    layer = make_layer(cell, 5)
    layer(np.zeros((2, 4, 3)))
    assert layer.count_params() == count


# -- one layer called at two places ----------------------------------------------------------------

@pytest.mark.parametrize("unroll", [False, True], ids=["fused", "unrolled"])
@pytest.mark.parametrize("cell", CELLS)
def test_shared_layer_accumulates_gradients(float64, cell, unroll):
    rng = np.random.default_rng(5)
    layer = make_layer(cell, 3, return_sequences=True, unroll=unroll)
    inputs = [rng.standard_normal((2, 4, 2)), rng.standard_normal((3, 2, 2))]
    layer(inputs[0])
    layer.set_weights(random_weights(layer, rng))
    upstream = [rng.standard_normal((2, 4, 3)), rng.standard_normal((3, 2, 3))]

    def weight_grads(which):
        for w in layer.weights:
            w.grad = None
        loss = sum((layer(inputs[i]) * upstream[i]).sum() for i in which)
        loss.backward()
        return [w.grad.copy() for w in layer.weights]

    both = weight_grads([0, 1])
    separate = [a + b for a, b in zip(weight_grads([0]), weight_grads([1]))]
    assert_all_close(both, separate, what="shared-layer weight gradients")
    assert not np.allclose(both[0], weight_grads([0])[0])   # the second call really contributed


# -- dropout -------------------------------------------------------------------------------------

DROPOUTS = {"dropout": {"dropout": 0.3}, "recurrent_dropout": {"recurrent_dropout": 0.3},
            "both": {"dropout": 0.25, "recurrent_dropout": 0.4}}


@pytest.mark.parametrize("rates", DROPOUTS)
@pytest.mark.parametrize("unroll", [False, True], ids=["fused", "unrolled"])
@pytest.mark.parametrize("cell", CELLS)
def test_dropout_is_identity_when_not_training(float64, cell, unroll, rates):
    problem = Problem(cell, "initial_state", batch=3, timesteps=4, features=3, units=3, seed=6)
    plain = run(problem, problem.built_layer(unroll=unroll))
    dropping = problem.built_layer(unroll=unroll, **DROPOUTS[rates])
    for training in (False, None):
        x = Tensor(problem.x)
        out = as_list(dropping(x, initial_state=problem.states0, training=training))
        assert_all_close([o.data for o in out], plain[0], rtol=0, atol=0)
    assert_all_close(run(problem, dropping)[1], plain[1], rtol=0, atol=0)
    set_random_seed(0)   # and with training=True it does drop something
    out = as_list(dropping(Tensor(problem.x), initial_state=problem.states0, training=True))
    assert not np.allclose(out[0].data, plain[0][0])


def _training_run(problem, layer, seed):
    """run() with training=True and the library's generator reseeded first."""
    set_random_seed(seed)
    x = Tensor(problem.x.copy(), requires_grad=True)
    states = [Tensor(s.copy(), requires_grad=True) for s in problem.states0]
    for w in layer.weights:
        w.grad = None
    outputs = as_list(layer(x, initial_state=states, training=True))
    rng = np.random.default_rng(1)
    sum((o * rng.standard_normal(o.shape)).sum() for o in outputs).backward()
    return [o.data for o in outputs], [t.grad for t in [x] + states + layer.weights], \
        layer.bptt_gradients


@pytest.mark.parametrize("rates", DROPOUTS)
@pytest.mark.parametrize("cell", CELLS)
def test_dropout_fused_matches_unrolled_with_the_same_masks(float64, cell, rates):
    problem = Problem(cell, "initial_state", batch=4, timesteps=4, features=3, units=3, seed=7)
    fused, unrolled = (problem.built_layer(unroll=u, **DROPOUTS[rates]) for u in (False, True))
    for seed in (11, 12):
        out_f, grads_f, bptt_f = _training_run(problem, fused, seed)
        out_u, grads_u, bptt_u = _training_run(problem, unrolled, seed)
        assert_all_close(out_f, out_u, what="outputs")
        assert_all_close(grads_f, grads_u, what="gradients")
        np.testing.assert_allclose(bptt_f, bptt_u, rtol=RTOL, atol=ATOL)
    # a seeded layer draws its masks from its own seed: two such layers agree without reseeding
    seeded = [problem.built_layer(unroll=u, seed=99, **DROPOUTS[rates]) for u in (False, True)]
    outs = [as_list(layer(problem.x, initial_state=problem.states0, training=True))
            for layer in seeded]
    assert_all_close([o.data for o in outs[0]], [o.data for o in outs[1]])


@pytest.mark.parametrize("unroll", [False, True], ids=["fused", "unrolled"])
@pytest.mark.parametrize("cell", CELLS)
def test_dropout_drops_the_right_fraction_of_input_features(float64, cell, unroll):
    rate, batch, features = 0.25, 400, 25
    rng = np.random.default_rng(8)
    x = rng.standard_normal((batch, 3, features))
    layer = make_layer(cell, 2, dropout=rate, unroll=unroll, return_sequences=True)
    reference = make_layer(cell, 2, unroll=unroll, return_sequences=True)
    layer(x[:1]), reference(x[:1])
    weights = random_weights(layer, rng, scale=0.2)
    if cell == "simple_relu":   # every kept feature must reach the loss: keep the units alive
        weights[2] += 2.0
    reference.set_weights(weights)
    layer.set_weights(reference.get_weights())

    set_random_seed(21)
    xt = Tensor(x, requires_grad=True)
    out = layer(xt, training=True)
    out.backward(grad=rng.standard_normal(out.shape))
    dropped = np.all(xt.grad == 0, axis=1)          # (batch, features): no gradient at any step
    fraction = dropped.mean()
    sigma = np.sqrt(rate * (1 - rate) / dropped.size)
    assert abs(fraction - rate) < 5 * sigma, (fraction, rate)

    # the zero-gradient features are exactly the dropped ones: changing them changes nothing ...
    set_random_seed(21)
    noisy = x + dropped[:, None, :] * rng.standard_normal(x.shape)
    np.testing.assert_array_equal(layer(noisy, training=True).data, out.data)
    # ... and the kept ones are scaled by 1 / (1 - rate), as inverted dropout does
    kept = np.where(dropped, 0.0, 1.0 / (1.0 - rate))[:, None, :]
    np.testing.assert_allclose(reference(x * kept).data, out.data, rtol=1e-12, atol=1e-14)


def test_seeded_dropout_draws_new_masks_for_each_call(float64):
    layer = SimpleRNN(3, dropout=0.5, recurrent_dropout=0.5, seed=5, return_sequences=True)
    twin = SimpleRNN(3, dropout=0.5, recurrent_dropout=0.5, seed=5, return_sequences=True)
    x = np.random.default_rng(9).standard_normal((8, 4, 6))
    layer(x), twin(x)
    twin.set_weights(layer.get_weights())
    first, second = layer(x, training=True).data, layer(x, training=True).data
    assert not np.array_equal(first, second)   # masks change from batch to batch, as in Keras
    np.testing.assert_array_equal(twin(x, training=True).data, first)   # reproducibly
    np.testing.assert_array_equal(twin(x, training=True).data, second)


# -- the gradients BPTT saw ----------------------------------------------------------------------

@pytest.mark.parametrize("unroll", [False, True], ids=["fused", "unrolled"])
@pytest.mark.parametrize("cell", CELLS)
def test_bptt_gradients_shape_and_norms(float64, cell, unroll):
    problem = Problem(cell, "mask_go_backwards", batch=3, timesteps=5, features=2, units=4, seed=10)
    layer = problem.built_layer(unroll=unroll)
    assert layer.bptt_gradients is None and layer.bptt_gradient_norms is None
    problem.call(layer, Tensor(problem.x))
    assert layer.bptt_gradients is None   # a forward pass alone records nothing
    _, _, bptt = run(problem, layer)
    assert bptt.shape == (5, 3, 4)
    norms = layer.bptt_gradient_norms
    assert norms.shape == (5,)
    np.testing.assert_allclose(norms, np.linalg.norm(bptt, axis=-1).mean(axis=-1), rtol=1e-12)


@pytest.mark.parametrize("unroll", [False, True], ids=["fused", "unrolled"])
@pytest.mark.parametrize("cell", CELLS)
def test_bptt_gradients_accumulate_and_follow_the_latest_call(float64, cell, unroll):
    problem = Problem(cell, "mask", batch=2, timesteps=4, features=2, units=3, seed=12)
    layer = problem.built_layer(unroll=unroll)
    _, _, combined = run(problem, layer)
    # one backward pass per output (the sequence, then each state) adds up to the combined one
    outputs = as_list(problem.call(layer, Tensor(problem.x), *problem.states0))
    rng = np.random.default_rng(1)
    upstream = [rng.standard_normal(o.shape) for o in outputs]
    for i, (o, u) in enumerate(zip(outputs, upstream)):
        o.backward(grad=u, retain_graph=i < len(outputs) - 1)
        if i == 0:
            first_only = layer.bptt_gradients.copy()
    np.testing.assert_allclose(layer.bptt_gradients, combined, rtol=1e-12, atol=1e-15)
    assert not np.allclose(first_only, combined)
    # called at two places, the layer reports what reached its latest call
    shorter = Problem(cell, "mask", batch=3, timesteps=2, features=2, units=3, seed=13)
    shorter.weights = problem.weights
    _, _, alone = run(shorter, problem.built_layer(unroll=unroll))
    first = as_list(problem.call(layer, Tensor(problem.x), *problem.states0))
    second = as_list(shorter.call(layer, Tensor(shorter.x), *shorter.states0))
    rng = np.random.default_rng(1)
    loss = sum((o * rng.standard_normal(o.shape)).sum() for o in second)
    (loss + sum(o.sum() for o in first)).backward()
    np.testing.assert_allclose(layer.bptt_gradients, alone, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("unroll", [False, True], ids=["fused", "unrolled"])
def test_bptt_gradients_match_a_hand_bptt(float64, unroll):
    rng = np.random.default_rng(11)
    B, T, D, H = 3, 6, 2, 4
    x = rng.standard_normal((B, T, D))
    layer = SimpleRNN(H, unroll=unroll)       # loss on the last output only
    layer(x)
    w_x, w_h, b = random_weights(layer, rng, scale=0.8)
    layer.set_weights([w_x, w_h, b])
    out = layer(Tensor(x))
    upstream = rng.standard_normal((B, H))
    out.backward(grad=upstream)
    bptt = layer.bptt_gradients
    np.testing.assert_allclose(bptt[-1], upstream, rtol=1e-14, atol=0)

    hs, h = [], np.zeros((B, H))              # forward by hand, then BPTT by hand
    for t in range(T):
        h = np.tanh(x[:, t] @ w_x + h @ w_h + b)
        hs.append(h)
    dh = upstream
    for t in reversed(range(T)):
        np.testing.assert_allclose(bptt[t], dh, rtol=1e-12, atol=1e-15, err_msg=f"step {t}")
        dh = (dh * (1.0 - hs[t] ** 2)) @ w_h.T


# -- bad input -----------------------------------------------------------------------------------

def _built(cell="lstm", units=3, features=2, **kwargs):
    layer = make_layer(cell, units, **kwargs)
    layer(np.zeros((2, 4, features)))
    return layer


@pytest.mark.parametrize("unroll", [False, True], ids=["fused", "unrolled"])
@pytest.mark.parametrize("built", [False, True], ids=["unbuilt", "built"])
def test_two_dimensional_input_is_refused(built, unroll):
    layer = _built(unroll=unroll) if built else LSTM(3, unroll=unroll)
    with pytest.raises(ValueError, match=r"\(batch, timesteps, (features|2)\).*\(2, 5\)"):
        layer(np.zeros((2, 5)))
    assert layer.built == built


@pytest.mark.parametrize("unroll", [False, True], ids=["fused", "unrolled"])
def test_wrong_feature_size_is_refused(unroll):
    layer = _built(features=2, unroll=unroll)
    with pytest.raises(ValueError, match=r"\(batch, timesteps, 2\).*\(2, 4, 3\)"):
        layer(np.zeros((2, 4, 3)))


@pytest.mark.parametrize("cell", CELLS)
def test_set_weights_with_wrong_count_or_shapes_changes_nothing(cell):
    layer = _built(cell)
    before = layer.get_weights()
    expected = str([w.shape for w in before])
    wrong = {"too few": before[:-1], "too many": before + [before[-1]],
             "wrong shape": [before[0][:1]] + before[1:],
             "transposed": [before[0].T] + before[1:]}
    for weights in wrong.values():
        with pytest.raises(ValueError) as error:
            layer.set_weights([w + 1.0 for w in weights])
        assert expected in str(error.value)
        assert_all_close(layer.get_weights(), before, rtol=0, atol=0)


@pytest.mark.parametrize("cell", CELLS)
def test_wrong_initial_state_is_refused(cell):
    layer = _built(cell, units=3)
    x, good = np.zeros((2, 4, 2)), [np.zeros((2, 3))] * n_states(cell)
    layer(x, initial_state=good)
    bad = {"wrong units": [np.zeros((2, 4))] * n_states(cell),
           "wrong batch": [np.zeros((3, 3))] * n_states(cell),
           "too many": good + [np.zeros((2, 3))],
           "too few": good[:-1]}
    for states in bad.values():
        with pytest.raises(ValueError, match=re.escape(str([(2, 3)] * n_states(cell)))):
            layer(x, initial_state=states)


@pytest.mark.parametrize("shape", [(2, 5), (2, 3), (3, 4), (2, 4, 1)])
def test_wrong_mask_shape_is_refused(shape):
    layer = _built("gru")
    with pytest.raises(ValueError, match=re.escape(f"{(2, 4)}; got {shape}")):
        layer(np.zeros((2, 4, 2)), mask=np.ones(shape, dtype=bool))


@pytest.mark.parametrize("make,known", [
    (lambda: SimpleRNN(3, activation="tanhh"), "tanh"),
    (lambda: LSTM(3, recurrent_activation="sigmod"), "sigmoid"),
    (lambda: GRU(3, kernel_initializer="glorot_unifrom"), "glorot_uniform"),
    (lambda: LSTM(3, recurrent_initializer="orthogonall"), "orthogonal"),
])
def test_unknown_names_are_refused_with_the_known_ones(make, known):
    with pytest.raises(ValueError) as error:
        make()
    assert f"'{known}'" in str(error.value)


@pytest.mark.parametrize("unroll", [False, True], ids=["fused", "unrolled"])
@pytest.mark.parametrize("cell", CELLS)
def test_failed_call_leaves_stateful_states_unchanged(cell, unroll):
    layer = _built(cell, units=3, features=2, stateful=True, unroll=unroll)
    layer(np.ones((2, 4, 2)))
    before = [s.copy() for s in layer.states]
    bad_calls = [
        lambda: layer(np.zeros((2, 4))),
        lambda: layer(np.zeros((2, 4, 3))),
        lambda: layer(np.zeros((3, 4, 2))),
        lambda: layer(np.zeros((2, 4, 2)), mask=np.ones((2, 3), dtype=bool)),
        lambda: layer(np.zeros((2, 4, 2)), initial_state=[np.zeros((2, 5))] * n_states(cell)),
    ]
    for bad in bad_calls:
        with pytest.raises(ValueError):
            bad()
        assert_all_close(layer.states, before, rtol=0, atol=0)
