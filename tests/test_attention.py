"""Attention layers.

* Attention and AdditiveAttention against Keras (TensorFlow backend): the same weights (random,
  non-default values set in Keras, then copied across with get_weights/set_weights), the same
  inputs and masks; outputs, attention scores and tf.GradientTape gradients w.r.t. query, value,
  key and every weight, in float32 and float64.
* LuongAttention and BahdanauAttention against the papers' formulas written out in plain NumPy, and
  their gradients against finite differences; masking, one-step vs. multi-step queries, configs.
* Bad input: a ValueError naming what was expected and what came, before any state changes.
"""

import numpy as np
import pytest

from tf_helpers import assert_close, import_tf, seed_of

tf = import_tf()
import keras  # noqa: E402  (after import_tf, which sets TensorFlow's environment)

import minirnn  # noqa: E402
from minirnn import Tensor, check_grads  # noqa: E402
from minirnn import layers as mlayers  # noqa: E402

B, TQ, TV, DIM, DIM_V = 3, 4, 5, 3, 2


def value_mask(batch=B, steps=TV):
    """Row 0 masks its first two steps, row 1 its last, row 2 none."""
    mask = np.ones((batch, steps), dtype=bool)
    mask[0, :2] = False
    mask[1 % batch, -1] = False
    return mask


def query_mask(batch=B, steps=TQ):
    mask = np.ones((batch, steps), dtype=bool)
    mask[0, -1] = False
    mask[2 % batch, 1] = False
    return mask


# -- Keras parity --------------------------------------------------------------------------------

# name -> (layer: "attention" | "additive", layer arguments, call options)
# call options: key (a separate key tensor), qmask, vmask, causal, scores (return_attention_scores),
# dead_row (one batch row with every value step masked)
KERAS_CASES = {
    "dot": ("attention", {}, {"scores": True}),
    "dot_scale": ("attention", {"use_scale": True}, {"scores": True}),
    "dot_key": ("attention", {"use_scale": True}, {"key": True, "scores": True}),
    "dot_value_mask": ("attention", {}, {"vmask": True, "scores": True}),
    "dot_query_mask": ("attention", {"use_scale": True}, {"qmask": True}),
    "dot_masks_key": ("attention", {"use_scale": True},
                      {"key": True, "qmask": True, "vmask": True, "scores": True}),
    "dot_causal": ("attention", {}, {"causal": True, "scores": True}),
    "dot_causal_masks": ("attention", {"use_scale": True},
                         {"causal": True, "qmask": True, "vmask": True, "scores": True}),
    "dot_dead_row": ("attention", {}, {"vmask": True, "dead_row": True, "scores": True}),
    "concat": ("attention", {"score_mode": "concat"}, {"scores": True}),
    "concat_scale": ("attention", {"score_mode": "concat", "use_scale": True}, {"scores": True}),
    "concat_key_masks": ("attention", {"score_mode": "concat", "use_scale": True},
                         {"key": True, "qmask": True, "vmask": True, "scores": True}),
    "concat_causal": ("attention", {"score_mode": "concat"},
                      {"causal": True, "vmask": True, "scores": True}),
    "additive": ("additive", {}, {"scores": True}),
    "additive_no_scale": ("additive", {"use_scale": False}, {"scores": True}),
    "additive_masks": ("additive", {}, {"qmask": True, "vmask": True, "scores": True}),
    "additive_no_scale_masks": ("additive", {"use_scale": False},
                                {"key": True, "vmask": True, "scores": True}),
    "additive_key_causal": ("additive", {}, {"key": True, "causal": True, "qmask": True}),
}
CLASSES = {"attention": (mlayers.Attention, keras.layers.Attention),
           "additive": (mlayers.AdditiveAttention, keras.layers.AdditiveAttention)}


def make_case(name, dtype):
    kind, layer_args, call = KERAS_CASES[name]
    rng = np.random.default_rng(seed_of(name))
    dim_v = DIM_V if call.get("key") else DIM  # without a key, value is the key
    q = rng.standard_normal((B, TQ, DIM)).astype(dtype)
    v = rng.standard_normal((B, TV, dim_v)).astype(dtype)
    inputs = [q, v] + ([rng.standard_normal((B, TV, DIM)).astype(dtype)] if call.get("key") else [])
    vm = value_mask() if call.get("vmask") else None
    if vm is not None and call.get("dead_row"):
        vm[2] = False
    qm = query_mask() if call.get("qmask") else None
    mask = None if qm is None and vm is None else [qm, vm]
    return kind, layer_args, call, inputs, mask, rng


def randomize_keras_weights(layer, rng):
    """Non-default values (Keras initializes scale and concat_score_weight to 1)."""
    layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(w.dtype) for w in layer.get_weights()])


def keras_run(layer, inputs, mask, call, upstream):
    tensors = [tf.constant(x) for x in inputs]
    kwargs = {"return_attention_scores": bool(call.get("scores")),
              "use_causal_mask": bool(call.get("causal"))}
    if mask is not None:
        kwargs["mask"] = [None if m is None else tf.constant(m) for m in mask]
    with tf.GradientTape() as tape:
        tape.watch(tensors)
        outputs = layer(tensors, **kwargs)
        outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        loss = tf.add_n([tf.reduce_sum(o * u) for o, u in zip(outputs, upstream)])
    grads = tape.gradient(loss, tensors + list(layer.trainable_weights))
    return [o.numpy() for o in outputs], [g.numpy() for g in grads]


def minirnn_run(layer, inputs, mask, call, upstream):
    tensors = [Tensor(x.copy(), requires_grad=True) for x in inputs]
    outputs = layer(tensors, mask=mask, return_attention_scores=bool(call.get("scores")),
                    use_causal_mask=bool(call.get("causal")))
    outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    loss = None
    for o, u in zip(outputs, upstream):
        term = (o * u).sum()
        loss = term if loss is None else loss + term
    loss.backward()
    params = tensors + list(layer.trainable_weights)
    return [o.data for o in outputs], [np.zeros_like(p.data) if p.grad is None else p.grad
                                       for p in params]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(KERAS_CASES))
def test_keras_parity(name, dtype):
    minirnn.set_floatx(dtype)
    kind, layer_args, call, inputs, mask, rng = make_case(name, dtype)
    ours_cls, keras_cls = CLASSES[kind]
    theirs = keras_cls(**layer_args, dtype=dtype)
    theirs([tf.constant(x) for x in inputs])  # build
    randomize_keras_weights(theirs, rng)
    ours = ours_cls(**layer_args)
    ours([Tensor(x) for x in inputs])  # build
    ours.set_weights(theirs.get_weights())  # Keras's shapes, no conversion
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]

    n_out = 2 if call.get("scores") else 1
    shapes = [(B, TQ, inputs[1].shape[-1]), (B, TQ, TV)][:n_out]
    upstream = [rng.standard_normal(s).astype(dtype) for s in shapes]
    expected_out, expected_grads = keras_run(theirs, inputs, mask, call, upstream)
    got_out, got_grads = minirnn_run(ours, inputs, mask, call, upstream)

    for what, got, exp in zip(["output", "attention scores"], got_out, expected_out):
        assert got.dtype == np.dtype(dtype) and got.shape == exp.shape
        assert_close(got, exp, dtype, f"{name}: {what}")
    labels = ["query", "value", "key"][:len(inputs)] + [w.path for w in theirs.trainable_weights]
    assert len(got_grads) == len(expected_grads)
    for label, got, exp in zip(labels, got_grads, expected_grads):
        assert_close(got, exp, dtype, f"{name}: gradient w.r.t. {label}")


@pytest.mark.parametrize("kind, layer_args", [("attention", {"use_scale": True,
                                                             "score_mode": "concat"}),
                                              ("additive", {})])
def test_weights_go_from_minirnn_to_keras(kind, layer_args):
    ours_cls, keras_cls = CLASSES[kind]
    rng = np.random.default_rng(seed_of(kind))
    q = rng.standard_normal((B, TQ, DIM)).astype("float32")
    v = rng.standard_normal((B, TV, DIM)).astype("float32")
    ours = ours_cls(**layer_args)
    ours([q, v])
    ours.set_weights([rng.uniform(0.5, 1.5, w.shape).astype("float32") for w in ours.get_weights()])
    theirs = keras_cls(**layer_args)
    theirs([tf.constant(q), tf.constant(v)])
    theirs.set_weights(ours.get_weights())
    assert_close(ours([q, v]).data, theirs([tf.constant(q), tf.constant(v)]).numpy(), "float32")


def test_output_mask_is_the_query_mask_as_in_keras():
    rng = np.random.default_rng(1)
    q = rng.standard_normal((B, TQ, DIM)).astype("float32")
    v = rng.standard_normal((B, TV, DIM)).astype("float32")
    qm, vm = query_mask(), value_mask()
    out, scores = mlayers.Attention()([q, v], mask=[qm, vm], return_attention_scores=True)
    k_out, k_scores = keras.layers.Attention()([tf.constant(q), tf.constant(v)],
                                               mask=[tf.constant(qm), tf.constant(vm)],
                                               return_attention_scores=True)
    np.testing.assert_array_equal(out._keras_mask, k_out._keras_mask.numpy())
    assert scores._keras_mask is None and getattr(k_scores, "_keras_mask", None) is None
    assert mlayers.Attention()([q, v], mask=[None, vm])._keras_mask is None


def test_masks_carried_by_the_inputs_are_used():
    """Embedding(mask_zero=True) upstream: the masks reach the layer without mask=."""
    rng = np.random.default_rng(2)
    q = rng.standard_normal((B, TQ, DIM)).astype("float32")
    v = rng.standard_normal((B, TV, DIM)).astype("float32")
    qm, vm = query_mask(), value_mask()
    qt, vt = Tensor(q), Tensor(v)
    qt._keras_mask, vt._keras_mask = qm, vm
    layer = mlayers.Attention()
    carried = layer([qt, vt]).data
    explicit = layer([q, v], mask=[qm, vm]).data
    np.testing.assert_array_equal(carried, explicit)
    assert np.all(carried[~qm] == 0)


def test_causal_mask_as_keras_builds_it():
    """Position i attends to j <= i only (Tq != Tv here), with the value mask and-ed in."""
    rng = np.random.default_rng(3)
    q = rng.standard_normal((B, TQ, DIM)).astype("float64")
    v = rng.standard_normal((B, TV, DIM)).astype("float64")
    _, scores = mlayers.Attention(dtype="float64")([q, v], mask=[None, value_mask()],
                                                   return_attention_scores=True,
                                                   use_causal_mask=True)
    allowed = np.tril(np.ones((TQ, TV), dtype=bool))[None] & value_mask()[:, None, :]
    live = allowed.any(-1)
    assert np.all(scores.data[~allowed & live[..., None]] < 1e-300)
    np.testing.assert_allclose(scores.data.sum(-1), 1.0, rtol=1e-12)


def test_dropout_drops_attention_weights_while_training_only():
    rng = np.random.default_rng(4)
    q = rng.standard_normal((B, TQ, DIM)).astype("float64")
    v = rng.standard_normal((B, TV, DIM)).astype("float64")
    layer = mlayers.Attention(dropout=0.4, seed=7, dtype="float64")
    out, plain = layer([q, v], return_attention_scores=True)
    out_inf, plain_again = layer([q, v], return_attention_scores=True, training=False)
    np.testing.assert_array_equal(plain.data, plain_again.data)
    out_tr, dropped = layer([q, v], return_attention_scores=True, training=True)
    kept = dropped.data != 0
    assert 0 < kept.mean() < 1
    np.testing.assert_allclose(dropped.data[kept], plain.data[kept] / 0.6, rtol=1e-12)
    np.testing.assert_allclose(out_tr.data, np.einsum("bqv,bvd->bqd", dropped.data, v), rtol=1e-12)
    again = mlayers.Attention(dropout=0.4, seed=7, dtype="float64")
    np.testing.assert_array_equal(again([q, v], training=True).data, out_tr.data)


@pytest.mark.parametrize("cls, args", [(mlayers.Attention, {"use_scale": True,
                                                            "score_mode": "concat",
                                                            "dropout": 0.1, "seed": 3}),
                                       (mlayers.AdditiveAttention, {"use_scale": False})])
def test_keras_layer_config_round_trip(cls, args):
    layer = cls(**args)
    config = layer.get_config()
    keras_config = getattr(keras.layers, cls.__name__)(**args).get_config()
    for key in set(keras_config) - {"name", "dtype"}:
        assert config[key] == keras_config[key], key
    assert set(config) - {"name", "dtype"} == set(keras_config) - {"name", "dtype"}
    assert cls.from_config(config).get_config() == config


def test_attention_in_a_functional_model():
    rng = np.random.default_rng(5)
    q = rng.standard_normal((B, TQ, DIM)).astype("float32")
    v = rng.standard_normal((B, TV, DIM)).astype("float32")
    q_in, v_in = minirnn.Input((TQ, DIM)), minirnn.Input((TV, DIM))
    layer = mlayers.AdditiveAttention()
    model = minirnn.Model([q_in, v_in], layer([q_in, v_in]))
    np.testing.assert_allclose(model.predict([q, v], verbose=0), layer([q, v]).data, rtol=1e-6)


# -- Luong and Bahdanau --------------------------------------------------------------------------

# name -> (class, arguments, dim_q, dim_v)
STEP_LAYERS = {
    "luong_dot": (mlayers.LuongAttention, {"score": "dot"}, 3, 3),
    "luong_general": (mlayers.LuongAttention, {"score": "general"}, 3, 2),
    "luong_concat": (mlayers.LuongAttention, {"score": "concat", "units": 4}, 3, 2),
    "bahdanau": (mlayers.BahdanauAttention, {"units": 4}, 3, 2),
}
SB, STQ, STV = 2, 3, 4


def paper_scores(name, layer, h_t, h_s):
    """The papers' score for one query vector h_t and one value vector h_s, written out."""
    score = STEP_LAYERS[name][1].get("score")
    if name == "bahdanau":  # e = v_a^T tanh(W_a s + U_a h), the (in, out) kernels transposed
        W, U, v = (w.data for w in (layer.W_a, layer.U_a, layer.v_a))
        return float(v @ np.tanh(W.T @ h_t + U.T @ h_s))
    if score == "dot":
        return float(h_t @ h_s)
    if score == "general":
        return float(h_t @ layer.W_a.data @ h_s)
    W, v = layer.W_a.data, layer.v_a.data  # v_a^T tanh(W_a [h_t; h_s])
    return float(v @ np.tanh(W.T @ np.concatenate([h_t, h_s])))


def paper_attention(name, layer, query, values, mask):
    """(context, weights) for query (B, Tq, dq) by the formulas, one query step at a time."""
    b_, tq, tv = query.shape[0], query.shape[1], values.shape[1]
    weights = np.zeros((b_, tq, tv))
    for b in range(b_):
        for i in range(tq):
            keep = np.ones(tv, bool) if mask is None else mask[b]
            e = np.array([paper_scores(name, layer, query[b, i], values[b, j]) for j in range(tv)])
            a = np.exp(e - e[keep].max()) * keep
            weights[b, i] = a / a.sum()
    return np.einsum("bqv,bvd->bqd", weights, values), weights


def step_inputs(name, seed_extra=""):
    _, _, dq, dv = STEP_LAYERS[name]
    rng = np.random.default_rng(seed_of(name + seed_extra))
    return (rng.standard_normal((SB, STQ, dq)), rng.standard_normal((SB, STV, dv)), rng)


def step_mask():
    mask = np.ones((SB, STV), dtype=bool)
    mask[0, 1] = mask[0, 3] = False
    mask[1, 0] = False
    return mask


def make_step_layer(name):
    cls, args, _, _ = STEP_LAYERS[name]
    minirnn.set_random_seed(seed_of(name))
    return cls(**args)


@pytest.mark.parametrize("masked", [False, True], ids=["no_mask", "value_mask"])
@pytest.mark.parametrize("name", sorted(STEP_LAYERS))
def test_step_attention_matches_the_papers(name, masked, float64):
    query, values, _ = step_inputs(name)
    mask = step_mask() if masked else None
    layer = make_step_layer(name)
    context, weights = layer([query, values], mask=mask)
    expected_context, expected_weights = paper_attention(name, layer, query, values, mask)
    np.testing.assert_allclose(weights.data, expected_weights, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(context.data, expected_context, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("one_step", [False, True], ids=["multi_step", "one_step"])
@pytest.mark.parametrize("masked", [False, True], ids=["no_mask", "value_mask"])
@pytest.mark.parametrize("name", sorted(STEP_LAYERS))
def test_step_attention_gradients(name, masked, one_step, float64):
    query, values, _ = step_inputs(name)
    if one_step:
        query = query[:, 0]
    mask = step_mask() if masked else None
    layer = make_step_layer(name)
    layer([query, values])  # build
    check_grads(lambda q, v: layer([q, v], mask=mask), query, values, params=layer.weights,
                rtol=1e-6)
    n_weights = {"luong_dot": 0, "luong_general": 1, "luong_concat": 2, "bahdanau": 3}[name]
    assert len(layer.weights) == n_weights  # every weight was checked


@pytest.mark.parametrize("name", sorted(STEP_LAYERS))
def test_step_attention_weights_are_a_distribution_over_unmasked_steps(name, float64):
    query, values, _ = step_inputs(name)
    mask = step_mask()
    mask[1] = False  # a row with nothing to attend to: zero weights and a zero context
    context, weights = make_step_layer(name)([query, values], mask=mask)
    w = weights.data
    assert np.all(w[~np.broadcast_to(mask[:, None, :], w.shape)] == 0.0)
    np.testing.assert_allclose(w[0].sum(-1), 1.0, rtol=1e-13)
    assert np.all(w[0][:, mask[0]] > 0)
    assert np.all(w[1] == 0) and np.all(context.data[1] == 0)


@pytest.mark.parametrize("name", sorted(STEP_LAYERS))
def test_one_step_query_agrees_with_multi_step(name, float64):
    query, values, _ = step_inputs(name)
    mask = step_mask()
    layer = make_step_layer(name)
    context, weights = layer([query, values], mask=mask)
    assert context.shape == (SB, STQ, values.shape[-1]) and weights.shape == (SB, STQ, STV)
    for t in range(STQ):
        c_t, w_t = layer([query[:, t], values], mask=mask)
        assert c_t.shape == (SB, values.shape[-1]) and w_t.shape == (SB, STV)
        np.testing.assert_allclose(c_t.data, context.data[:, t], rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(w_t.data, weights.data[:, t], rtol=1e-13, atol=1e-15)


def test_step_attention_query_mask_zeroes_the_context(float64):
    query, values, _ = step_inputs("bahdanau")
    qm = np.array([[True, False, True], [True, True, False]])
    layer = make_step_layer("bahdanau")
    context, weights = layer([query, values], mask=[qm, step_mask()])
    plain_context, plain_weights = layer([query, values], mask=step_mask())
    np.testing.assert_array_equal(context.data[~qm], 0.0)
    np.testing.assert_array_equal(context.data[qm], plain_context.data[qm])
    np.testing.assert_array_equal(weights.data, plain_weights.data)
    np.testing.assert_array_equal(context._keras_mask, qm)


@pytest.mark.parametrize("name", sorted(STEP_LAYERS))
def test_step_attention_config_round_trip(name, float64):
    query, values, _ = step_inputs(name)
    layer = make_step_layer(name)
    context, weights = layer([query, values])
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    clone([query, values])
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone([query, values])[0].data, context.data)


def test_luong_concat_units_default_to_the_query_size():
    layer = mlayers.LuongAttention("concat")
    layer([np.zeros((2, 3), "float32"), np.zeros((2, 4, 5), "float32")])
    assert [w.shape for w in layer.weights] == [(8, 3), (3,)]


# -- bad input -----------------------------------------------------------------------------------

def _raises_without_building(layer, inputs, match, **kwargs):
    with pytest.raises(ValueError, match=match) as error:
        layer(inputs, **kwargs)
    assert not layer.built and layer.weights == []
    return str(error.value)


X = np.zeros((2, 3, 4), "float32")  # query (2, Tq=3, 4)
V = np.zeros((2, 5, 4), "float32")  # value (2, Tv=5, 4)


@pytest.mark.parametrize("cls", [mlayers.Attention, mlayers.AdditiveAttention])
def test_keras_attention_bad_input(cls):
    layer = cls(use_scale=True)
    message = _raises_without_building(layer, [X, np.zeros((3, 5, 4), "float32")],
                                       "same batch size")
    assert "(2, 3, 4)" in message and "(3, 5, 4)" in message
    message = _raises_without_building(layer, [X, V, np.zeros((2, 5, 6), "float32")],
                                       "same feature size")
    assert "query features 4" in message and "key features 6" in message
    message = _raises_without_building(layer, [X, V, np.zeros((2, 4, 4), "float32")],
                                       "same number of timesteps")
    message = _raises_without_building(layer, [X], "2 or 3 inputs")
    assert "got 1" in message
    _raises_without_building(layer, [X, V, V, V], "got 4")
    message = _raises_without_building(layer, X, "list of inputs")
    assert "(2, 3, 4)" in message
    message = _raises_without_building(layer, [X, V], r"value_mask \(batch, Tv\) of shape "
                                       r"\(2, 5\); got shape \(2, 3\)",
                                       mask=[None, np.ones((2, 3), bool)])
    _raises_without_building(layer, [X, V], r"query_mask \(batch, Tq\) of shape \(2, 3\); got "
                             r"shape \(2, 5\)", mask=[np.ones((2, 5), bool), None])
    _raises_without_building(layer, [X, V], r"mask=\[query_mask, value_mask\]",
                             mask=np.ones((2, 5), bool))
    _raises_without_building(layer, [X[0], V], r"query of shape \(batch, timesteps, features\)")


def test_additive_attention_built_for_another_size():
    layer = mlayers.AdditiveAttention()
    layer([X, V])
    with pytest.raises(ValueError, match=r"built for query and key with 4 features; got query of "
                                         r"shape \(2, 3, 6\)"):
        layer([np.zeros((2, 3, 6), "float32"), np.zeros((2, 5, 6), "float32")])


def test_keras_attention_bad_arguments():
    with pytest.raises(ValueError, match=r"score_mode` must be one of \['dot', 'concat'\]; got "
                                         r"'general'"):
        mlayers.Attention(score_mode="general")
    with pytest.raises(ValueError, match=r"dropout` must be a number in \[0.0, 1.0\]; got 1.5"):
        mlayers.AdditiveAttention(dropout=1.5)


@pytest.mark.parametrize("name", sorted(STEP_LAYERS))
def test_step_attention_bad_input(name):
    cls, args, dq, dv = STEP_LAYERS[name]
    layer = cls(**args)
    q, v = np.zeros((2, 3, dq), "float32"), np.zeros((2, 5, dv), "float32")
    message = _raises_without_building(layer, [q, np.zeros((4, 5, dv), "float32")],
                                       "same batch size")
    assert "query 2" in message and "values 4" in message
    message = _raises_without_building(layer, [q, v, v], "list of 2 inputs")
    assert "got a list of 3 inputs" in message
    _raises_without_building(layer, [q], "got a list of 1 inputs")
    _raises_without_building(layer, q, "list of 2 inputs")
    _raises_without_building(layer, [q, v], r"value mask \(batch, Tv\) of shape \(2, 5\); got "
                             r"shape \(2, 4\)", mask=np.ones((2, 4), bool))
    _raises_without_building(layer, [q[:, 0], v], r"value mask \(batch, Tv\) of shape \(2, 5\); "
                             r"got shape \(5,\)", mask=np.ones(5, bool))
    _raises_without_building(layer, [q, v], r"query mask \(batch, Tq\) of shape \(2, 3\); got "
                             r"shape \(2, 5\)", mask=[np.ones((2, 5), bool), None])
    _raises_without_building(layer, [q[None], v], r"query of shape \(batch, dim_q\) or \(batch, "
                             r"Tq, dim_q\); got shape \(1, 2, 3, 3\)")
    _raises_without_building(layer, [q, v[0]], r"values of shape \(batch, Tv, dim_v\); got shape "
                             r"\(5, %d\)" % dv)
    layer([q, v])
    with pytest.raises(ValueError, match=rf"built for query features {dq} and values features "
                                         rf"{dv}; got query of shape \(2, 3, 7\)"):
        layer([np.zeros((2, 3, 7), "float32"), v])


def test_luong_dot_needs_equal_feature_sizes():
    query, values = np.zeros((2, 3), "float32"), np.zeros((2, 5, 4), "float32")
    message = _raises_without_building(mlayers.LuongAttention("dot"), [query, values],
                                       "same feature size")
    assert "query features 3" in message and "values features 4" in message


def test_step_attention_bad_arguments():
    with pytest.raises(ValueError, match=r"\['dot', 'general', 'concat'\]; got 'location'"):
        mlayers.LuongAttention("location")
    with pytest.raises(ValueError, match="only with score='concat'"):
        mlayers.LuongAttention("general", units=4)
    with pytest.raises(ValueError, match="`units` must be an int >= 1; got 0"):
        mlayers.LuongAttention("concat", units=0)
    with pytest.raises(ValueError, match="`units` must be an int >= 1; got -3"):
        mlayers.BahdanauAttention(-3)
