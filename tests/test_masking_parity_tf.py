"""Masks against Keras 3, layer by layer and through a training step, on padded data.

Keras hands a layer the mask its input carries only when the call has ONE tensor argument: an RNN
given `initial_state` (or any layer given a second tensor) runs unmasked, though its output still
carries the mask computed from the first input's. Conv1D does not support masking and drops the
mask. Losses weight by the output's mask. Each model is built by one builder taking the library
(keras or minirnn); weights are copied from Keras layer by layer, and the expected numbers are
Keras's own (its outputs, its masks, its GradientTape gradients, its Adam step), or hand formulas.
"""
import os

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import minirnn  # noqa: E402
from tf_helpers import assert_close, import_tf  # noqa: E402

tf = import_tf()
import keras  # noqa: E402

pytestmark = pytest.mark.tf

T, V, B, E, U = 6, 9, 5, 3, 4


@pytest.fixture(params=["float64", "float32"])
def dtype(request):
    """Both libraries compute in this float dtype for the test."""
    # Keras fixes its global dtype policy when first used: set_floatx alone would not reach it
    previous = keras.config.floatx(), keras.config.dtype_policy(), minirnn.floatx()
    keras.config.set_floatx(request.param)
    keras.config.set_dtype_policy(request.param)
    minirnn.set_floatx(request.param)
    try:
        yield request.param
    finally:
        keras.config.set_floatx(previous[0])
        keras.config.set_dtype_policy(previous[1])
        minirnn.set_floatx(previous[2])


def tokens(seed, rows=B):
    """Token ids padded with zeros at the end, one row all padding but its first step, the last
    row with a masked step inside (the steps after it then depend on whether it was skipped)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, V, size=(rows, T))
    for row, length in enumerate(rng.integers(1, T, size=rows - 1)):
        x[row, length:] = 0
    x[0, 1:] = 0
    x[-1, 2] = 0
    return x.astype("int32")


def built_pair(builder, seed=0, **options):
    """The model built by Keras and by minirnn, minirnn's weights copied from Keras's by name."""
    keras.utils.set_random_seed(seed)
    kmodel = builder(keras, **options)
    mmodel = builder(minirnn, **options)
    mlayers = {layer.name: layer for layer in mmodel.layers}
    for klayer in kmodel.layers:
        if klayer.weights:
            mlayers[klayer.name].set_weights(klayer.get_weights())
    return kmodel, mmodel


def as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def keras_mask(tensor):
    mask = getattr(tensor, "_keras_mask", None)
    return None if mask is None else np.asarray(mask)


# -- builders: lib is the keras or the minirnn module ---------------------------------------------

RNNS = {"LSTM": 2, "GRU": 1, "SimpleRNN": 1}  # layer name: how many states it returns


def rnn_from_states(lib, rnn="LSTM"):
    """A decoder RNN started from an encoder's states, over masked embeddings."""
    L = lib.layers
    src = lib.Input((T,), dtype="int32", name="src")
    tgt = lib.Input((T,), dtype="int32", name="tgt")
    layer = getattr(L, rnn)
    _, *states = layer(U, return_state=True, name="enc")(L.Embedding(V, E, mask_zero=True,
                                                                     name="src_emb")(src))
    dec = layer(U, return_sequences=True, name="dec")(
        L.Embedding(V, E, mask_zero=True, name="tgt_emb")(tgt), initial_state=states)
    return lib.Model([src, tgt], dec)


def bidirectional_from_states(lib):
    L = lib.layers
    src = lib.Input((T,), dtype="int32", name="src")
    tgt = lib.Input((T,), dtype="int32", name="tgt")
    _, *states = L.Bidirectional(L.GRU(U, return_state=True), name="enc")(
        L.Embedding(V, E, mask_zero=True, name="src_emb")(src))
    dec = L.Bidirectional(L.GRU(U, return_sequences=True), name="dec")(
        L.Embedding(V, E, mask_zero=True, name="tgt_emb")(tgt), initial_state=states)
    return lib.Model([src, tgt], dec)


def encoder_decoder(lib, attention="Attention"):
    """Seq2seq with masked attention: the decoder's states from the encoder, the query mask from
    the target's padding, the value mask from the source's, a Concatenate of masked tensors."""
    L = lib.layers
    src = lib.Input((T,), dtype="int32", name="src")
    tgt = lib.Input((T,), dtype="int32", name="tgt")
    enc_out, h, c = L.LSTM(U, return_sequences=True, return_state=True, name="enc")(
        L.Embedding(V, E, mask_zero=True, name="src_emb")(src))
    dec = L.LSTM(U, return_sequences=True, name="dec")(
        L.Embedding(V, E, mask_zero=True, name="tgt_emb")(tgt), initial_state=[h, c])
    context = getattr(L, attention)(name="att")([dec, enc_out])
    both = L.Concatenate(name="cat")([dec, context])
    return lib.Model([src, tgt], L.TimeDistributed(L.Dense(V), name="proj")(both))


def masked_conv(lib):
    """Masking before a Conv1D, which drops the mask: the pooling after it averages every step."""
    L = lib.layers
    x = lib.Input((T, E), name="x")
    h = L.Conv1D(U, 2, activation="tanh", name="conv")(L.Masking(name="mask")(x))
    return lib.Model(x, L.Dense(2, name="out")(L.GlobalAveragePooling1D(name="gap")(h)))


def masked_sequence_output(lib):
    """An output that carries the Embedding's mask: the loss weighs its steps by it."""
    L = lib.layers
    x = lib.Input((T,), dtype="int32", name="x")
    embedded = L.Embedding(V, E, mask_zero=True, name="emb")(x)
    h = L.GRU(U, return_sequences=True, name="gru")(embedded)
    return lib.Model(x, L.TimeDistributed(L.Dense(2), name="proj")(h))


def padded_floats(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(B, T, E))
    x[1, -2:] = 0  # steps the Masking layer masks
    x[3, 2] = 0
    return x


# -- forward: outputs and masks --------------------------------------------------------------------

def assert_same_outputs(kmodel, mmodel, x, dtype):
    kouts, mouts = as_list(kmodel(x)), as_list(mmodel(x))
    assert len(kouts) == len(mouts)
    for k, m in zip(kouts, mouts):
        assert_close(m.data, np.asarray(k), dtype)
        kmask, mmask = keras_mask(k), keras_mask(m)
        assert (kmask is None) == (mmask is None)
        if kmask is not None:
            np.testing.assert_array_equal(mmask, kmask)


@pytest.mark.parametrize("rnn", sorted(RNNS))
def test_rnn_given_initial_state_runs_unmasked_as_keras(rnn, dtype):
    kmodel, mmodel = built_pair(rnn_from_states, rnn=rnn)
    x = [tokens(1), tokens(2)]
    assert_same_outputs(kmodel, mmodel, x, dtype)
    # the padded steps moved on (a masked RNN would repeat its last unmasked output there), and the
    # output still carries the target's padding mask
    out = np.asarray(mmodel(x).data)
    assert np.abs(out[0, 1] - out[0, 0]).max() > 1e-4
    np.testing.assert_array_equal(keras_mask(mmodel(x)), x[1] != 0)


def test_bidirectional_given_initial_state_runs_unmasked_as_keras(dtype):
    kmodel, mmodel = built_pair(bidirectional_from_states)
    assert_same_outputs(kmodel, mmodel, [tokens(3), tokens(4)], dtype)


def test_rnn_called_eagerly_with_initial_state_runs_unmasked_as_keras(dtype):
    x = tokens(5)
    keras.utils.set_random_seed(0)
    kemb, klstm = (keras.layers.Embedding(V, E, mask_zero=True),
                   keras.layers.LSTM(U, return_sequences=True))
    memb, mlstm = (minirnn.layers.Embedding(V, E, mask_zero=True),
                   minirnn.layers.LSTM(U, return_sequences=True))
    state = [np.random.default_rng(6).normal(size=(B, U)).astype(dtype) for _ in range(2)]
    for with_state in (False, True):  # masked without initial_state, unmasked with it
        kwargs = {"initial_state": state} if with_state else {}
        kout = klstm(kemb(x), **kwargs)
        if not memb.built:
            memb(x), mlstm(memb(x))
            memb.set_weights(kemb.get_weights())
            mlstm.set_weights(klstm.get_weights())
        mout = mlstm(memb(x), **kwargs)
        assert_close(mout.data, np.asarray(kout), dtype, f"initial_state given: {with_state}")
        np.testing.assert_array_equal(keras_mask(mout), keras_mask(kout))


class TwoTensorLayer:
    """A layer whose call takes two tensors and a mask, in the given library: Keras passes no
    mask to it, the first input's mask notwithstanding, and its output carries that mask."""

    @staticmethod
    def make(lib):
        class TwoTensors(lib.layers.Layer):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.supports_masking = True
                self.masks_seen = []

            def call(self, inputs, other, mask=None):
                self.masks_seen.append(mask)
                return inputs + other

        return TwoTensors()


def test_layer_with_two_tensor_arguments_gets_no_mask_as_keras():
    x = tokens(7)
    kemb = keras.layers.Embedding(V, E, mask_zero=True)
    memb = minirnn.layers.Embedding(V, E, mask_zero=True)
    kemb(x), memb(x)
    memb.set_weights(kemb.get_weights())
    other = np.ones((B, T, E), dtype="float32")
    klayer, mlayer = TwoTensorLayer.make(keras), TwoTensorLayer.make(minirnn)
    kout, mout = klayer(kemb(x), other), mlayer(memb(x), other)
    assert klayer.masks_seen == [None] and mlayer.masks_seen == [None]
    np.testing.assert_array_equal(keras_mask(mout), np.asarray(keras_mask(kout)))
    np.testing.assert_array_equal(keras_mask(mout), x != 0)


@pytest.mark.parametrize("attention", ["Attention", "AdditiveAttention"])
def test_encoder_decoder_with_masked_attention_matches_keras(attention, dtype):
    kmodel, mmodel = built_pair(encoder_decoder, attention=attention)
    x = [tokens(8), tokens(9)]
    assert_same_outputs(kmodel, mmodel, x, dtype)
    for name in ("dec", "att", "cat"):  # each intermediate tensor, and the mask it carries
        klayer = kmodel.get_layer(name)
        mlayer = next(layer for layer in mmodel.layers if layer.name == name)
        assert_same_outputs(keras.Model(kmodel.inputs, klayer.output),
                            minirnn.Model(mmodel.inputs, mlayer.output), x, dtype)


def test_conv1d_drops_the_mask_as_keras(dtype):
    kmodel, mmodel = built_pair(masked_conv)
    x = padded_floats(10)
    assert_same_outputs(kmodel, mmodel, x, dtype)
    conv = next(layer for layer in mmodel.layers if layer.name == "conv")
    assert keras_mask(minirnn.Model(mmodel.inputs, conv.output)(x)) is None


# -- training: loss, gradients, one Adam step ------------------------------------------------------

def keras_loss_and_gradients(kmodel, x, y):
    with tf.GradientTape() as tape:
        loss = kmodel.compute_loss(x=x, y=y, y_pred=kmodel(x, training=True), training=True)
    grads = tape.gradient(loss, kmodel.trainable_variables)
    return float(loss), [tf.convert_to_tensor(g).numpy() for g in grads]  # an Embedding's: dense


def minirnn_loss_and_gradients(mmodel, x, y):
    for weight in mmodel.trainable_weights:
        weight.grad = None
    loss = mmodel._total_loss(y, mmodel(x, training=True))
    loss.backward()
    return float(loss.data), [w.grad for w in mmodel.trainable_weights]


TRAINED = {"encoder_decoder": (encoder_decoder, lambda: [tokens(11), tokens(12)], (B, T, V)),
           "masked_conv": (masked_conv, lambda: padded_floats(13), (B, 2)),
           "masked_sequence_output": (masked_sequence_output, lambda: tokens(14), (B, T, 2))}


def compiled_pair(name, dtype):
    builder, inputs, target_shape = TRAINED[name]
    kmodel, mmodel = built_pair(builder)
    kmodel.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse")
    mmodel.compile(optimizer=minirnn.optimizers.Adam(0.02), loss="mse")
    y = np.random.default_rng(15).normal(size=target_shape).astype(dtype)
    return kmodel, mmodel, inputs(), y


@pytest.mark.parametrize("name", sorted(TRAINED))
def test_masked_loss_and_gradients_match_keras(name, dtype):
    kmodel, mmodel, x, y = compiled_pair(name, dtype)
    kloss, kgrads = keras_loss_and_gradients(kmodel, x, y)
    mloss, mgrads = minirnn_loss_and_gradients(mmodel, x, y)
    assert_close(mloss, kloss, dtype, "loss")
    assert len(mgrads) == len(kgrads)
    for kvar, mgrad, kgrad in zip(kmodel.trainable_variables, mgrads, kgrads):
        assert_close(mgrad, kgrad, dtype, kvar.path)


def test_the_loss_weighs_steps_by_the_output_mask(float64):
    """Hand formula: mse averaged over the unmasked steps' values only (Keras's mask is a sample
    weight, normalised by the unmasked count)."""
    _, mmodel, x, y = compiled_pair("masked_sequence_output", "float64")
    pred = mmodel(x).data
    keep = (x != 0)[..., None]
    per_step = ((pred - y) ** 2).mean(axis=-1, keepdims=True)
    expected = (per_step * keep).sum() / keep.sum()
    assert_close(minirnn_loss_and_gradients(mmodel, x, y)[0], expected, "float64")


@pytest.mark.parametrize("name", sorted(TRAINED))
def test_one_adam_step_on_masked_data_matches_keras(name):
    """float32: in float64 Keras's Adam still rounds beta_1 and beta_2 to float32 (a Python float
    becomes a float32 tensor before its cast), a difference of about 1e-7 in every step."""
    kmodel, mmodel, x, y = compiled_pair(name, "float32")
    _, kgrads = keras_loss_and_gradients(kmodel, x, y)
    kmodel.optimizer.apply_gradients(zip(kgrads, kmodel.trainable_variables))
    mmodel.train_on_batch(x, y)
    for kvar, mvar in zip(kmodel.trainable_variables, mmodel.trainable_weights):
        assert_close(mvar.data, kvar.numpy(), "float32", kvar.path)


def test_adam_squares_an_embedding_gradient_summed_over_lookups():
    """A token looked up several times in a batch: its Adam second moment is (1 - beta_2) times
    the square of its summed gradient (Keras on JAX and PyTorch; Keras on TensorFlow sums the
    squares of the lookups' IndexedSlices instead, see README)."""
    minirnn.random.set_random_seed(16)
    emb = minirnn.layers.Embedding(V, E)
    x = np.array([[2, 2, 5], [2, 7, 5]])
    upstream = np.random.default_rng(17).normal(size=(2, 3, E))
    optimizer = minirnn.optimizers.Adam(0.02)
    (emb(x) * minirnn.Tensor(upstream.astype(emb.dtype))).sum().backward()
    weight = emb.trainable_weights[0]
    optimizer.apply_gradients([(weight.grad, weight)])
    summed = np.zeros((V, E))
    np.add.at(summed, x.ravel(), upstream.reshape(-1, E))
    assert_close(optimizer._slot(weight, "velocity"), 0.001 * summed ** 2, "float32")
    assert_close(optimizer._slot(weight, "momentum"), 0.1 * summed, "float32")


def test_keras_on_tensorflow_squares_embedding_lookups_apart():
    """The difference README states, held to Keras itself: its second moment for a repeated id is
    (1 - beta_2) times the sum of the lookups' squared gradients."""
    keras.utils.set_random_seed(18)
    emb = keras.layers.Embedding(V, E)
    x = np.array([[2, 2, 5], [2, 7, 5]])
    upstream = np.random.default_rng(19).normal(size=(2, 3, E)).astype("float32")
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(emb(x) * upstream)
    (grad,) = tape.gradient(loss, emb.trainable_variables)
    assert isinstance(grad, tf.IndexedSlices)
    optimizer = keras.optimizers.Adam(0.02)
    optimizer.apply_gradients([(grad, emb.embeddings)])
    squares = np.zeros((V, E))
    np.add.at(squares, x.ravel(), upstream.reshape(-1, E).astype("float64") ** 2)
    assert_close(optimizer._velocities[0].numpy(), 0.001 * squares, "float32")
