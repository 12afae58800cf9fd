"""One minirnn layer against its Keras twin: the same weights, the same inputs, the same outputs
and tf.GradientTape gradients (for the input and every trainable weight), call after call.

A case is built twice from one maker, make(lib, dtype) with lib the keras or the minirnn module,
so both sides read alike. An optional `before` layer (Masking, or Embedding(mask_zero=True) for
integer ids) runs first in both, so masks reach the layer the way they do in a real model.
"""
import numpy as np

import minirnn
from minirnn.tensor import Tensor
from tf_helpers import assert_close, import_tf

tf = import_tf()
import keras  # noqa: E402  (after import_tf, which configures TensorFlow's environment)


def _build(layer, shape):
    if not layer.built:
        layer.build(shape)


def compare_with_keras(make, x, dtype, seed, before=None, calls=1, **call_kwargs):
    """Run the layer made by make(lib, dtype) `calls` times on x in both libraries and assert
    that outputs, gradients and (after the last call) all weights agree.

    before: None or make-like function for a layer applied first (its weights compared too).
    call_kwargs: passed to the layer under test (e.g. training=True).
    When make.keras_transposed is set, minirnn's layer is channels_first and Keras's twin (made
    channels_last: TensorFlow has no channels_first convolution or pooling on CPU) sees the
    input with its last two axes swapped, and its output and input gradient are swapped back.
    Returns (keras layer, minirnn layer) for further checks.
    """
    theirs, ours = make(keras, dtype), make(minirnn, dtype)
    first_theirs = before(keras, dtype) if before else None
    first_ours = before(minirnn, dtype) if before else None
    integer_ids = np.asarray(x).dtype.kind in "iu"
    if not integer_ids:
        x = np.asarray(x, dtype=dtype)
    transposed = getattr(make, "keras_transposed", False)
    shape = x.shape
    if transposed:
        x_theirs = np.swapaxes(x, 1, 2).copy()
        shape = x_theirs.shape
    else:
        x_theirs = x
    if first_theirs is not None:
        _build(first_theirs, shape)
        _build(first_ours, shape)
        first_ours.set_weights(first_theirs.get_weights())
        shape = tuple(first_theirs.compute_output_shape(shape))
    _build(theirs, shape)
    _build(ours, np.swapaxes(np.empty(shape), 1, 2).shape if transposed else shape)
    ours.set_weights(theirs.get_weights())
    # a stream of its own: were the upstream gradient the input's own draw, a normalization's
    # input gradient would nearly cancel to zero
    rng = np.random.default_rng([seed, 1])
    for call in range(calls):
        xt = tf.constant(x_theirs) if integer_ids else tf.Variable(x_theirs)
        their_weights = (first_theirs.trainable_weights if first_theirs else []) + \
            theirs.trainable_weights
        with tf.GradientTape() as tape:
            z = first_theirs(xt) if first_theirs else xt
            expected = theirs(z, **call_kwargs)
            if transposed and len(expected.shape) == 3:
                expected = tf.transpose(expected, (0, 2, 1))
            upstream = rng.standard_normal(expected.shape).astype(dtype)
            loss = tf.reduce_sum(expected * upstream)
        sources = ([] if integer_ids else [xt]) + list(their_weights)
        expected_grads = tape.gradient(loss, sources)
        if transposed:
            expected_grads[0] = tf.transpose(expected_grads[0], (0, 2, 1))

        xm = Tensor(x, requires_grad=not integer_ids)
        our_weights = (first_ours.trainable_weights if first_ours else []) + ours.trainable_weights
        for w in our_weights:
            w.grad = None
        z = first_ours(xm) if first_ours else xm
        got = ours(z, **call_kwargs)
        (got * upstream).sum().backward()
        got_grads = ([] if integer_ids else [xm.grad]) + [w.grad for w in our_weights]

        what = f"{ours.name}, call {call}"
        assert got.shape == tuple(expected.shape), (what, got.shape, expected.shape)
        assert_close(got.data, expected.numpy(), dtype, f"{what}: output")
        names = ([] if integer_ids else ["input"]) + [w.name for w in our_weights]
        assert len(got_grads) == len(expected_grads), (what, names)
        for name, g, e in zip(names, got_grads, expected_grads):
            e = np.zeros(g.shape) if e is None else tf.convert_to_tensor(e).numpy()
            g = np.zeros(e.shape) if g is None else g
            assert_close(g, e, dtype, f"{what}: gradient of {name}")
    for i, (g, e) in enumerate(zip(ours.get_weights(), theirs.get_weights())):
        assert_close(g, e, dtype, f"{ours.name}: weight {i} after {calls} call(s)")
    return theirs, ours


def masking(lib, dtype):
    return lib.layers.Masking(mask_value=0.0, dtype=dtype)


def embedding(vocabulary, width):
    def make(lib, dtype):
        return lib.layers.Embedding(vocabulary, width, mask_zero=True, dtype=dtype)
    return make


def with_padding(x, lengths):
    """x (B, T, F) with the steps after each sample's length set to 0 (what Masking masks)."""
    x = np.array(x)
    for b, n in enumerate(lengths):
        x[b, n:] = 0.0
    return x


def base_name(name):
    """A layer's default name without the counter Keras and minirnn append (`conv1d_3`)."""
    import re
    return re.sub(r"_\d+$", "", name)
