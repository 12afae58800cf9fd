"""The functional API's plumbing against Keras 3: InputLayer, the order of `model.layers`,
`model.input` / `layer.output`, inference models built from trained layers (keras-io's
lstm_seq2seq), Keras's input-rank adjustment, summary rows, and arrays in saved configs.

Every graph is built twice from one builder taking the library (keras or minirnn) as argument, with
explicit names, so the two `model.layers` lists compare name by name. Expected numbers come from
Keras or from running the trained layers by hand, never from the code under test.
"""
import json
import os

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, strategies as st  # noqa: E402

import minirnn  # noqa: E402
from minirnn import initializers  # noqa: E402
from minirnn.layers import InputLayer, LayerNotCalledError  # noqa: E402
from minirnn.saving.serialization import deserialize_layer, serialize_layer  # noqa: E402
from tf_helpers import assert_close, import_tf  # noqa: E402

tf = import_tf()
import keras  # noqa: E402

pytestmark = pytest.mark.tf

T, D = 5, 3


# -- graphs, built by either library --------------------------------------------------------------

def rnn_then_dense(lib):
    """The classic check-your-RNN notebook: model.layers[1] must be the RNN."""
    x = lib.Input((T, D), name="x")
    h = lib.layers.SimpleRNN(4, name="rnn")(x)
    return lib.Model(x, lib.layers.Dense(1, name="head")(h))


def late_joined_input(lib):
    """A second input joins only at the last merge: Keras lists it mid-list, by its depth."""
    a, b = lib.Input((T, D), name="a"), lib.Input((2,), name="b")
    h = lib.layers.Dense(3, name="d2")(lib.layers.LSTM(4, name="rnn")(a))
    merged = lib.layers.Concatenate(name="cat")([h, b])
    return lib.Model([a, b], lib.layers.Dense(1, name="head")(merged))


def shared_layer_at_two_depths(lib):
    """One Dense called at depth 3 and at depth 1: Keras lists it once, at its deepest call."""
    a, b = lib.Input((4,), name="a"), lib.Input((4,), name="b")
    shared = lib.layers.Dense(4, name="shared")
    x = shared(a)
    y = shared(lib.layers.Dense(4, name="middle")(lib.layers.Add(name="add")([x, b])))
    return lib.Model([a, b], lib.layers.Dense(2, name="head")(y))


def two_outputs(lib):
    """Two heads over one LSTM; the short head listed first, so Keras's depth order differs from
    the order of a walk that lists each call after what it reads."""
    x = lib.Input((T, D), name="x")
    seq = lib.layers.LSTM(4, return_sequences=True, name="rnn")(x)
    last = lib.layers.SimpleRNN(3, name="rnn2")(seq)
    first_head = lib.layers.Dense(2, name="first")(last)
    deep = lib.layers.Dense(1, name="deep")(lib.layers.Dense(3, name="pre")(last))
    return lib.Model(x, [first_head, deep])


def unused_input(lib):
    """An input no output reads still belongs to the model (Keras: depth 0, before its peers)."""
    a, b = lib.Input((4,), name="a"), lib.Input((2,), name="unused")
    return lib.Model([a, b], lib.layers.Dense(1, name="head")(lib.layers.Dense(3, name="d")(a)))


def seq2seq_training(lib, num_encoder_tokens=6, num_decoder_tokens=7, latent_dim=5):
    """keras-io's lstm_seq2seq training model, as written there (layer names left to the
    libraries: the comparison is by class)."""
    encoder_inputs = lib.Input(shape=(None, num_encoder_tokens))
    encoder = lib.layers.LSTM(latent_dim, return_state=True)
    encoder_outputs, state_h, state_c = encoder(encoder_inputs)
    encoder_states = [state_h, state_c]
    decoder_inputs = lib.Input(shape=(None, num_decoder_tokens))
    decoder_lstm = lib.layers.LSTM(latent_dim, return_sequences=True, return_state=True)
    decoder_outputs, _, _ = decoder_lstm(decoder_inputs, initial_state=encoder_states)
    decoder_dense = lib.layers.Dense(num_decoder_tokens, activation="softmax")
    decoder_outputs = decoder_dense(decoder_outputs)
    return lib.Model([encoder_inputs, decoder_inputs], decoder_outputs)


def nested_model(lib):
    """A functional model used as a layer of another, after an input of its own."""
    inner_in = lib.Input((4,), name="inner_in")
    inner = lib.Model(inner_in, lib.layers.Dense(3, name="inner_dense")(inner_in), name="inner")
    a, b = lib.Input((4,), name="a"), lib.Input((3,), name="b")
    merged = lib.layers.Add(name="add")([inner(a), lib.layers.Dense(3, name="side")(b)])
    return lib.Model([a, b], merged)


def masking_on_a_branch(lib):
    """Keras computes Masking's mask with two operations of its graph (NotEqual, Any) that the
    LSTM reads: they put the Dense before the Masking one level deeper than its peer on the
    other branch, which a graph of layer calls alone lists the other way round."""
    x = lib.Input((T, D), name="x")
    plain = lib.layers.Dense(3, name="rb")(lib.layers.Dense(3, name="pb2")(
        lib.layers.Dense(3, name="pb1")(x)))
    masked = lib.layers.LSTM(3, return_sequences=True, name="ra")(
        lib.layers.Masking(name="mask")(lib.layers.Dense(3, name="pa")(x)))
    return lib.Model(x, lib.layers.Add(name="add")([plain, masked]))


def concatenated_masks(lib):
    """An Embedding's mask and a Masking's joined by Concatenate (ExpandDims, ZerosLike,
    LogicalOr, Concatenate and Any in Keras's graph), read by an LSTM, beside a deep branch."""
    ids, y = lib.Input((T,), dtype="int32", name="ids"), lib.Input((T, 4), name="y")
    joined = lib.layers.Concatenate(name="cat")([
        lib.layers.Embedding(9, 4, mask_zero=True, name="emb")(ids),
        lib.layers.Masking(name="mask")(y)])
    deep = y
    for i in range(4):
        deep = lib.layers.Dense(8, name=f"deep{i}")(deep)
    seq = lib.layers.LSTM(8, return_sequences=True, name="rnn")(joined)
    return lib.Model([ids, y], lib.layers.Add(name="add")([deep, seq]))


GRAPHS = [rnn_then_dense, late_joined_input, shared_layer_at_two_depths, two_outputs,
          unused_input, seq2seq_training, nested_model, masking_on_a_branch, concatenated_masks]


def classes(model):
    """Class names of model.layers; Keras's functional model class is Functional, ours Model."""
    return [{"Functional": "Model"}.get(type(l).__name__, type(l).__name__) for l in model.layers]


@pytest.mark.parametrize("build", GRAPHS, ids=[g.__name__ for g in GRAPHS])
def test_functional_layers_are_listed_in_keras_order(build):
    keras_model, model = build(keras), build(minirnn)
    assert classes(model) == classes(keras_model)
    if build is not seq2seq_training:  # named explicitly: the names compare too
        assert [l.name for l in model.layers] == [l.name for l in keras_model.layers]
    for ours, theirs in zip(model.layers, keras_model.layers):
        assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]


@st.composite
def random_graphs(draw):
    """A random DAG of width-3 tensors: inputs, Dense calls (some re-calling an earlier Dense,
    so shared), Adds over two or three earlier tensors; some of the tensors as outputs."""
    n_inputs = draw(st.integers(1, 3))
    steps, n_dense = [], 0
    for step in range(draw(st.integers(1, 7))):
        available = n_inputs + step
        kind = draw(st.sampled_from(["dense", "add", "shared"] if n_dense else ["dense", "add"]))
        if kind == "add" and available >= 2:
            parents = draw(st.lists(st.integers(0, available - 1), min_size=2, max_size=3,
                                    unique=True))
            steps.append(("add", parents, None))
        elif kind == "shared":
            steps.append(("dense", [draw(st.integers(0, available - 1))],
                          draw(st.integers(0, n_dense - 1))))
        else:
            steps.append(("dense", [draw(st.integers(0, available - 1))], n_dense))
            n_dense += 1
    outputs = draw(st.lists(st.integers(n_inputs, n_inputs + len(steps) - 1), min_size=1,
                            max_size=3, unique=True))
    return n_inputs, steps, outputs


def build_random_graph(lib, spec):
    n_inputs, steps, outputs = spec
    tensors = [lib.Input((3,), name=f"in{i}") for i in range(n_inputs)]
    denses = {}
    for i, (kind, parents, dense) in enumerate(steps):
        if kind == "add":
            tensors.append(lib.layers.Add(name=f"add{i}")([tensors[p] for p in parents]))
        else:
            layer = denses.setdefault(dense, lib.layers.Dense(3, name=f"dense{dense}"))
            tensors.append(layer(tensors[parents[0]]))
    return lib.Model(tensors[:n_inputs], [tensors[o] for o in outputs])


@given(spec=random_graphs())
def test_random_graphs_list_their_layers_in_keras_order(spec):
    keras_model, model = build_random_graph(keras, spec), build_random_graph(minirnn, spec)
    assert [l.name for l in model.layers] == [l.name for l in keras_model.layers]
    x = [np.random.default_rng(i).normal(size=(2, 3)).astype("float32") for i in range(spec[0])]
    for ours, theirs in zip(model.layers, keras_model.layers):
        ours.set_weights(theirs.get_weights())
    expected = keras_model.predict(x, verbose=0)
    got = model.predict(x, verbose=0)
    for g, e in zip(got if isinstance(got, list) else [got],
                    expected if isinstance(expected, list) else [expected]):
        assert_close(g, e, "float32")


@st.composite
def random_masked_graphs(draw):
    """A random DAG of (T, 3) tensors from a float and an int input: Masking, Embedding with
    mask_zero, Dense (which hands masks on), LSTM (which reads them), Add and Concatenate (which
    join them, Concatenate followed by a Dense back to width 3); some tensors as outputs."""
    steps = []
    for step in range(draw(st.integers(1, 7))):
        available = 2 + step
        kind = draw(st.sampled_from(["mask", "dense", "lstm", "add", "cat"]))
        if kind in ("add", "cat") and available >= 3:
            parents = draw(st.lists(st.integers(0, available - 1), min_size=2, max_size=3,
                                    unique=True))
        else:
            kind = "mask" if kind in ("add", "cat") else kind
            parents = [draw(st.integers(0, available - 1))]
        steps.append((kind, parents))
    outputs = draw(st.lists(st.integers(2, 1 + len(steps)), min_size=1, max_size=2, unique=True))
    return steps, outputs


def build_random_masked_graph(lib, spec):
    steps, outputs = spec
    L = lib.layers
    ids, x = lib.Input((T,), dtype="int32", name="ids"), lib.Input((T, 3), name="x")
    tensors = [x, L.Embedding(9, 3, mask_zero=True, name="emb")(ids)]
    for i, (kind, parents) in enumerate(steps):
        given = [tensors[p] for p in parents]
        if kind == "mask":
            made = L.Masking(name=f"mask{i}")(given[0])
        elif kind == "dense":
            made = L.Dense(3, name=f"dense{i}")(given[0])
        elif kind == "lstm":
            made = L.LSTM(3, return_sequences=True, name=f"lstm{i}")(given[0])
        elif kind == "add":
            made = L.Add(name=f"add{i}")(given)
        else:
            made = L.Dense(3, name=f"catdense{i}")(L.Concatenate(name=f"cat{i}")(given))
        tensors.append(made)
    return lib.Model([ids, x], [tensors[o] for o in outputs])


@given(spec=random_masked_graphs())
def test_random_masked_graphs_list_their_layers_in_keras_order(spec):
    keras_model = build_random_masked_graph(keras, spec)
    model = build_random_masked_graph(minirnn, spec)
    assert [l.name for l in model.layers] == [l.name for l in keras_model.layers]


def test_rnn_notebook_indexes_the_rnn():
    model = rnn_then_dense(minirnn)
    assert isinstance(model.layers[0], InputLayer)
    kernel, recurrent, bias = model.layers[1].get_weights()
    assert kernel.shape == (D, 4) and recurrent.shape == (4, 4) and bias.shape == (4,)


def test_sequential_layers_hold_no_input_layer():
    def build(lib):
        return lib.Sequential([lib.Input((T, D), name="x"), lib.layers.LSTM(4, name="rnn"),
                               lib.layers.Dense(1, name="head")])
    keras_model, model = build(keras), build(minirnn)
    assert classes(model) == classes(keras_model) == ["LSTM", "Dense"]
    assert [l.name for l in model.layers] == [l.name for l in keras_model.layers]
    # (Keras 3 gives a Sequential's tensors through `inputs` / `outputs` only)
    assert model.input is model.inputs[0] and model.input.shape == tuple(keras_model.inputs[0].shape)
    assert model.output is model.outputs[0]
    assert model.output.shape == tuple(keras_model.outputs[0].shape)


# -- model.input / layer.output -------------------------------------------------------------------

def test_model_input_and_output_keep_the_structure_given():
    for lib in (keras, minirnn):
        single = rnn_then_dense(lib)
        assert not isinstance(single.input, (list, tuple)) and len(single.inputs) == 1
        assert single.input is single.inputs[0]
        multi = late_joined_input(lib)
        assert isinstance(multi.input, list) and len(multi.input) == 2
        assert multi.input[1] is multi.inputs[1]
        heads = two_outputs(lib)
        assert isinstance(heads.output, list) and [o.shape[-1] for o in heads.output] == [2, 1]
    assert rnn_then_dense(minirnn).input.shape == (None, T, D)


def test_layer_input_and_output_match_keras():
    keras_model, model = seq2seq_training(keras), seq2seq_training(minirnn)
    for ours, theirs in zip(model.layers, keras_model.layers):
        for what in ("input", "output"):
            mine, keras_side = getattr(ours, what), getattr(theirs, what)
            if isinstance(keras_side, list):
                assert isinstance(mine, list) and len(mine) == len(keras_side), (ours.name, what)
                assert [m.shape for m in mine] == [tuple(k.shape) for k in keras_side]
            else:
                assert not isinstance(mine, list) and mine.shape == tuple(keras_side.shape)
    # an InputLayer's output is its tensor, the one the model takes
    assert model.layers[0].output is model.input[0]


def test_a_layer_called_twice_gives_its_first_call_as_keras_3_does():
    results = {}
    for lib in (keras, minirnn):
        a, b = lib.Input((4,)), lib.Input((6, 4))
        shared = lib.layers.Dense(2)
        first, second = shared(a), shared(b)
        assert shared.output is first and shared.input is a
        results[lib.__name__] = tuple(shared.output.shape)
    assert results["minirnn"] == results["keras"] == (None, 2)
    assert shared.get_output_at(1) is second and shared.get_input_at(1) is b


def test_feature_extractor_from_a_sequentials_layers_matches_keras():
    """Keras's Sequential guide: Model(model.inputs, [layer.output for layer in model.layers])."""
    def build(lib):
        return lib.Sequential([lib.Input((T, D)), lib.layers.LSTM(4, return_sequences=True),
                               lib.layers.SimpleRNN(3), lib.layers.Dense(2)])
    keras_model, model = build(keras), build(minirnn)
    model.set_weights(keras_model.get_weights())
    extract = lambda lib, m: lib.Model(m.inputs, [layer.output for layer in m.layers])
    x = np.random.default_rng(0).normal(size=(4, T, D)).astype("float32")
    expected = extract(keras, keras_model).predict(x, verbose=0)
    got = extract(minirnn, model).predict(x, verbose=0)
    assert len(got) == len(expected) == 3
    for g, e in zip(got, expected):
        assert_close(g, e, "float32")


def test_sequential_layer_outputs_follow_the_graph_it_runs():
    model = minirnn.Sequential([minirnn.Input((4,))])
    first = minirnn.layers.Dense(3)
    model.add(first)
    model.add(minirnn.layers.Dense(2))
    assert model.layers[1].input is first.output  # the graph rebuilt by add(), not the first one
    assert len(first._inbound_records) == 1


# -- keras-io lstm_seq2seq: inference models from the trained layers ------------------------------

def seq2seq_inference(keras, model, latent_dim):
    """keras-io's lstm_seq2seq inference construction, verbatim but for the function around it."""
    encoder_inputs = model.input[0]  # input_1
    encoder_outputs, state_h_enc, state_c_enc = model.layers[2].output  # lstm_1
    encoder_states = [state_h_enc, state_c_enc]
    encoder_model = keras.Model(encoder_inputs, encoder_states)

    decoder_inputs = model.input[1]  # input_2
    decoder_state_input_h = keras.Input(shape=(latent_dim,))
    decoder_state_input_c = keras.Input(shape=(latent_dim,))
    decoder_states_inputs = [decoder_state_input_h, decoder_state_input_c]
    decoder_lstm = model.layers[3]
    decoder_outputs, state_h_dec, state_c_dec = decoder_lstm(
        decoder_inputs, initial_state=decoder_states_inputs
    )
    decoder_states = [state_h_dec, state_c_dec]
    decoder_dense = model.layers[4]
    decoder_outputs = decoder_dense(decoder_outputs)
    decoder_model = keras.Model(
        [decoder_inputs] + decoder_states_inputs, [decoder_outputs] + decoder_states
    )
    return encoder_model, decoder_model


def test_lstm_seq2seq_inference_models_run_step_by_step():
    import minirnn as keras_like  # the script's `import keras`, pointed at minirnn
    latent, enc_tokens, dec_tokens, steps = 5, 6, 7, 4
    keras_model = seq2seq_training(keras, enc_tokens, dec_tokens, latent)
    model = seq2seq_training(keras_like, enc_tokens, dec_tokens, latent)
    for ours, theirs in zip(model.layers, keras_model.layers):
        ours.set_weights(theirs.get_weights())
    rng = np.random.default_rng(3)
    enc_in = rng.normal(size=(2, T, enc_tokens)).astype("float32")
    dec_in = rng.normal(size=(2, steps, dec_tokens)).astype("float32")

    encoder_model, decoder_model = seq2seq_inference(keras_like, model, latent)
    k_encoder, k_decoder = seq2seq_inference(keras, keras_model, latent)
    states = encoder_model.predict(enc_in, verbose=0)
    for got, expected in zip(states, k_encoder.predict(enc_in, verbose=0)):
        assert_close(got, expected, "float32")

    # one decoder step at a time, states carried by hand, reproduces the teacher-forced model
    probabilities = []
    for t in range(steps):
        out, h, c = decoder_model.predict([dec_in[:, t:t + 1]] + list(states), verbose=0)
        k_out, k_h, k_c = k_decoder.predict([dec_in[:, t:t + 1]] + list(states), verbose=0)
        assert_close(out, k_out, "float32")
        probabilities.append(out[:, 0])
        states = [h, c]
    assert_close(np.stack(probabilities, axis=1),
                 keras_model.predict([enc_in, dec_in], verbose=0), "float32")
    # the inference models share the trained layers: no copy was made
    assert decoder_model.layers[-1] is model.layers[4]


# -- Keras's _adjust_input_rank ------------------------------------------------------------------

def test_missing_last_axis_of_one_is_added_as_keras_does():
    def build(lib):
        return lib.Sequential([lib.Input((T, 1)), lib.layers.SimpleRNN(3), lib.layers.Dense(1)])
    keras_model, model = build(keras), build(minirnn)
    model.set_weights(keras_model.get_weights())
    x = np.random.default_rng(1).normal(size=(4, T)).astype("float32")
    expected = np.asarray(keras_model(x))
    assert_close(model(x).data, expected, "float32")
    assert_close(model(x[..., None]).data, expected, "float32")


def test_extra_trailing_axis_of_one_is_squeezed_as_keras_does():
    def build(lib):
        a, b = lib.Input((4,)), lib.Input((T, 1))
        h = lib.layers.Concatenate()([lib.layers.Dense(2)(a), lib.layers.LSTM(2)(b)])
        return lib.Model([a, b], lib.layers.Dense(1)(h))
    keras_model, model = build(keras), build(minirnn)
    for ours, theirs in zip(model.layers, keras_model.layers):
        ours.set_weights(theirs.get_weights())
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(3, 4, 1)).astype("float32"), rng.normal(size=(3, T)).astype("float32")
    expected = np.asarray(keras_model([a, b]))
    assert_close(model([a, b]).data, expected, "float32")


def test_other_rank_mismatches_are_refused():
    model = minirnn.Sequential([minirnn.Input((T, 2)), minirnn.layers.SimpleRNN(3)])
    with pytest.raises(ValueError, match=r"expects input of shape .*2\); got shape \(2, 5\)"):
        model(np.zeros((2, T), "float32"))  # the declared last axis is 2, not 1
    functional = rnn_then_dense(minirnn)
    with pytest.raises(ValueError, match="shape"):
        functional(np.zeros((2, T, D, 2), "float32"))  # an extra axis of 2, not 1


# -- summary --------------------------------------------------------------------------------------

def test_unbuilt_sequential_summary_lists_its_layers_as_keras_does():
    def build(lib):
        return lib.Sequential([lib.layers.LSTM(4, name="rnn"), lib.layers.Dense(2, name="head")])
    keras_lines = []
    build(keras).summary(print_fn=lambda line, **kwargs: keras_lines.append(line))
    keras_text = "\n".join(keras_lines)
    lines = []
    build(minirnn).summary(print_fn=lines.append)
    rows = [line.split() for line in lines if line.startswith((" rnn ", " head "))]
    assert rows == [["rnn", "(LSTM)", "?", "0", "(unbuilt)"], ["head", "(Dense)", "?", "0", "(unbuilt)"]]
    for name, cls in (("rnn", "LSTM"), ("head", "Dense")):  # Keras's cells say the same
        assert f"{name} ({cls})" in keras_text
    assert keras_text.count("0 (unbuilt)") == 2 and keras_text.count("?") == 2
    assert "Total params: 0 (0.00 B)" in lines and "Total params: 0 (0.00 B)" in keras_text


def test_functional_summary_rows_follow_keras_layers():
    keras_model, model = late_joined_input(keras), late_joined_input(minirnn)
    lines = []
    model.summary(print_fn=lines.append)
    expected = [(f"{l.name} ({type(l).__name__})", str(tuple(l._inbound_nodes[-1].outputs[0].shape)),
                 str(l.count_params())) for l in keras_model.layers]
    got = [(line[1:34].rstrip(), line[34:60].rstrip(), line[60:].strip())
           for line in lines if line.startswith(" ") and not line.startswith(" Layer (type)")]
    assert got == expected


# -- InputLayer -----------------------------------------------------------------------------------

def test_input_layer_config_is_keras_config():
    theirs = keras.layers.InputLayer(shape=(None, 4), name="tokens").get_config()
    ours = InputLayer(shape=(None, 4), name="tokens").get_config()
    assert ours == {**theirs, "batch_shape": list(theirs["batch_shape"])}
    layer = deserialize_layer(serialize_layer(InputLayer(batch_shape=(2, 3), dtype="int32", name="ids")))
    assert isinstance(layer, InputLayer) and layer.output.shape == (2, 3)
    assert layer.output.dtype == np.int32 and layer.name == "ids"
    assert minirnn.Input((3,), name="q").input_layer.name == "q"


@pytest.mark.parametrize("kwargs, error, match", [
    ({}, ValueError, "shape"),
    ({"shape": (3,), "batch_shape": (None, 3)}, ValueError, "not both"),
    ({"batch_size": 2, "batch_shape": (2, 3)}, ValueError, "not both"),
    ({"shape": (3,), "sparse": True}, ValueError, "sparse=True"),
    ({"shape": (-1,)}, ValueError, ">= 0"),
    ({"shape": (2.5,)}, ValueError, ">= 0"),
    ({"shape": "abc"}, ValueError, ">= 0"),
    ({"shape": object()}, TypeError, "tuple of ints"),
    ({"shape": (3,), "name": 7}, TypeError, "name"),
])
def test_bad_input_layer_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        minirnn.Input(**kwargs)


# -- bad use of the plumbing ----------------------------------------------------------------------

def test_output_of_an_uncalled_layer_is_a_clear_error():
    layer = minirnn.layers.Dense(3, name="lonely")
    with pytest.raises(LayerNotCalledError, match="'lonely' has never been called .* no defined output"):
        layer.output
    with pytest.raises(AttributeError):  # as Keras raises it: hasattr() answers False
        layer.input
    assert not hasattr(layer, "output")
    with pytest.raises(ValueError, match="never been called"):
        layer.get_output_at(0)
    with pytest.raises(LayerNotCalledError, match="Sequential model .* no defined input"):
        minirnn.Sequential([minirnn.layers.Dense(2)]).input


def test_bad_node_index_and_calling_an_input_layer():
    layer = minirnn.layers.Dense(3, name="once")
    layer(minirnn.Input((4,)))
    with pytest.raises(ValueError, match="call 1, but the layer was called 1 time"):
        layer.get_output_at(1)
    with pytest.raises(TypeError, match="node_index must be an int"):
        layer.get_input_at("0")
    with pytest.raises(TypeError, match="InputLayer .* is not called"):
        InputLayer(shape=(2,))(np.zeros((1, 2)))


def test_disconnected_graph_names_the_missing_input():
    a, b = minirnn.Input((2,), name="given"), minirnn.Input((2,), name="forgotten")
    out = minirnn.layers.Add()([a, b])
    with pytest.raises(ValueError, match=r"graph disconnected.*'forgotten'"):
        minirnn.Model(a, out)
    with pytest.raises(ValueError, match=r"graph disconnected.*'forgotten'"):
        minirnn.Model(a, b)


# -- arrays in configs ----------------------------------------------------------------------------

KERNEL = np.arange(6.0).reshape(2, 3)


def test_constant_array_config_is_keras_config():
    theirs = keras.initializers.Constant(KERNEL).get_config()
    ours = initializers.Constant(KERNEL).get_config()
    assert json.loads(json.dumps(ours)) == json.loads(json.dumps(theirs))
    rebuilt = initializers.get({"class_name": "Constant", "config": theirs})
    np.testing.assert_array_equal(rebuilt((2, 3), dtype="float64"), KERNEL)


def constant_kernel_model():
    x = minirnn.Input((2,))
    dense = minirnn.layers.Dense(3, kernel_initializer=initializers.Constant(KERNEL),
                                 bias_initializer=initializers.Constant(np.array([1.0, 2.0, 3.0])))
    return minirnn.Model(x, dense(x))


def test_constant_array_survives_get_config_and_from_config():
    model = constant_kernel_model()
    np.testing.assert_array_equal(model.layers[1].get_weights()[0], KERNEL)
    clone = minirnn.Model.from_config(json.loads(json.dumps(model.get_config())))
    kernel, bias = clone.layers[1].get_weights()
    np.testing.assert_array_equal(kernel, KERNEL)
    np.testing.assert_array_equal(bias, [1.0, 2.0, 3.0])
    assert classes(clone) == ["InputLayer", "Dense"]


def test_constant_array_survives_a_model_file(tmp_path):
    model = constant_kernel_model()
    model.save(tmp_path / "m.npz")
    loaded = minirnn.models.load_model(tmp_path / "m.npz")
    assert isinstance(loaded.layers[1].kernel_initializer.value, np.ndarray)
    np.testing.assert_array_equal(loaded.layers[1].kernel_initializer.value, KERNEL)
    np.testing.assert_array_equal(loaded.layers[1].kernel_initializer((2, 3), "float64"), KERNEL)
    x = np.array([[1.0, -1.0]], "float32")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), x @ KERNEL + [1.0, 2.0, 3.0])


def test_lambda_arguments_holding_an_array_survive_a_model_file(tmp_path):
    model = minirnn.Sequential([minirnn.Input((3,)),
                                minirnn.layers.Lambda(minirnn.ops.add,
                                                      arguments={"b": np.array([1.0, 2.0, 3.0])})])
    model.save(tmp_path / "m.npz")
    loaded = minirnn.models.load_model(tmp_path / "m.npz")
    x = np.zeros((1, 3), "float32")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), [[1.0, 2.0, 3.0]])


@pytest.mark.parametrize("value, error, match", [
    ("abc", TypeError, "number or an array"),
    ({"class_name": "__numpy__", "config": {"value": [1, 2], "dtype": "object"}}, ValueError,
     "boolean or numeric dtype"),
    ({"class_name": "__numpy__", "config": {"value": ["os.system"], "dtype": "float32"}},
     ValueError, "lists of numbers"),
    ({"class_name": "__numpy__", "config": {"value": [[1], [1, 2]], "dtype": "float32"}},
     ValueError, "do not form"),
])
def test_bad_constant_values(value, error, match):
    with pytest.raises(error, match=match):
        initializers.Constant(value)


def test_constant_that_cannot_fill_the_weight():
    layer = minirnn.layers.Dense(3, kernel_initializer=initializers.Constant(np.ones((4, 3))))
    with pytest.raises(ValueError, match=r"shape \(4, 3\) cannot fill a weight of shape \(2, 3\)"):
        layer(np.zeros((1, 2), "float32"))


def test_bad_array_in_a_model_file_names_the_file(tmp_path):
    model = constant_kernel_model()
    path = tmp_path / "m.npz"
    model.save(path)
    with np.load(path) as archive:
        contents = {k: archive[k] for k in archive.files}
    key = next(k for k, v in contents.items() if v.dtype.kind == "U" and "__numpy__" in str(v))
    contents[key] = np.array(str(contents[key]).replace('"dtype": "float64"', '"dtype": "object"'))
    np.savez(path, **contents)
    with pytest.raises(ValueError, match=r"m\.npz.*boolean or numeric dtype"):
        minirnn.models.load_model(path)


# -- configs written before InputLayer ------------------------------------------------------------

OLD_CONFIG = {  # the functional config format of earlier versions: InputLayers are "inputs" entries
    "name": "old",
    "inputs": [{"shape": [None, 4], "dtype": "float32", "name": "old_in"}],
    "layers": [{"class_name": "Dense", "config": {"name": "old_dense", "units": 2,
                                                  "kernel_initializer": {"class_name": "Ones",
                                                                         "config": {}}}}],
    "nodes": [{"layer": 0, "args": [{"__tensor__": ["input", 0]}], "kwargs": {}}],
    "outputs": [["node", 0, 0]],
    "single_input": True, "single_output": True,
}


def test_old_configs_still_load():
    model = minirnn.Model.from_config(json.loads(json.dumps(OLD_CONFIG)))
    assert classes(model) == ["InputLayer", "Dense"]
    assert [l.name for l in model.layers] == ["old_in", "old_dense"]
    x = np.array([[1.0, 2.0, 3.0, 4.0]], "float32")
    np.testing.assert_array_equal(model.predict(x, verbose=0), [[10.0, 10.0]])
    # and its config, written again, is still that format (no InputLayer among "layers")
    assert [s["class_name"] for s in model.get_config()["layers"]] == ["Dense"]


@pytest.mark.parametrize("build", [seq2seq_training, nested_model, unused_input],
                         ids=["seq2seq", "nested", "unused_input"])
def test_model_file_keeps_keras_layer_order(build, tmp_path):
    keras_model, model = build(keras), build(minirnn)
    model.save(tmp_path / "m.npz")
    loaded = minirnn.models.load_model(tmp_path / "m.npz")
    assert classes(loaded) == classes(keras_model)
    for ours, theirs in zip(loaded.layers, model.layers):
        assert type(ours) is type(theirs) and ours.name == theirs.name
        for a, b in zip(ours.get_weights(), theirs.get_weights()):
            np.testing.assert_array_equal(a, b)
