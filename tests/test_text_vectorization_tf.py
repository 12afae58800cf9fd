"""TextVectorization against Keras 3's own layer: every vocabulary, every id and every count comes
from Keras (run on TensorFlow), and minirnn's layer, given the same arguments and text, must give
the same, element for element and dtype for dtype.

The few expectations not taken from Keras are written out by hand from the rules Keras documents
(ties broken in descending token order, "[UNK]" at index 1) so that a change in both would show.
"""
import os

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, strategies as st  # noqa: E402

import minirnn  # noqa: E402
from minirnn.layers import TextVectorization  # noqa: E402
from tf_helpers import assert_close, import_tf  # noqa: E402

tf = import_tf()
import keras  # noqa: E402  (TensorFlow brings Keras 3 with it)

pytestmark = pytest.mark.tf

# punctuation of every kind, upper case beyond ASCII, Unicode spaces (which Keras does not split
# on), tabs and newlines (which it does), empty and blank strings, ties in the counts
CORPUS = [
    "The cat sat on the mat.",
    "the DOG sat; the cat ran!",
    "It's a dog-eat-dog world...",
    "Ünïcode ÉCOLE école naïve ÀB",
    "tabs\tand\nnewlines\r\nand  spaces\x0bvtab\x0cff",
    "non\u00a0breaking\u2003em\x1cfs space",
    "b a c b a c",
    "",
    "   ",
    "e-mail: x@y.z (maybe) [brackets] {braces} <angles> 50% #hash $5 ^caret ~tilde `tick` "
    "|pipe \\back /slash +plus =eq ?q \"quoted\" 'single' _under_",
    "zeta alpha beta gamma",
    "ǅ ΣΑΣ İ σας",
]
QUERIES = ["the cat and the dog", "It's NOT in the vocabulary!", "", "école ÉCOLE", "a\tb\nc",
           "zeta zeta zeta alpha unknown", "ΣΑΣ"]


def pair(**kwargs):
    """(Keras's layer, minirnn's layer) made with the same arguments."""
    return keras.layers.TextVectorization(**kwargs), TextVectorization(**kwargs)


def assert_same_vocabulary(theirs, ours):
    for special in (True, False):
        expected = [str(t) for t in theirs.get_vocabulary(include_special_tokens=special)]
        assert ours.get_vocabulary(include_special_tokens=special) == expected
    assert ours.vocabulary_size() == theirs.vocabulary_size()


def assert_same_output(theirs, ours, data, tolerance=None):
    expected = np.asarray(theirs(data))
    got = ours(data)
    assert isinstance(got, minirnn.Tensor)
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    if tolerance is None:
        np.testing.assert_array_equal(got.data, expected)
    else:
        assert_close(got.data, expected, tolerance)


def adapted_pair(data=CORPUS, **kwargs):
    theirs, ours = pair(**kwargs)
    theirs.adapt(data)
    ours.adapt(data)
    return theirs, ours


# -- the steps, mode by mode -----------------------------------------------------------------------

@pytest.mark.parametrize("standardize", ["lower_and_strip_punctuation", "lower",
                                         "strip_punctuation", None])
@pytest.mark.parametrize("split", ["whitespace", "character", None])
def test_standardize_and_split_modes(standardize, split):
    theirs, ours = adapted_pair(standardize=standardize, split=split)
    assert_same_vocabulary(theirs, ours)
    assert_same_output(theirs, ours, QUERIES)
    assert_same_output(theirs, ours, np.array(QUERIES)[:, None])


def test_default_standardize_strips_keras_punctuation_and_lowercases_ascii_only():
    # by hand, from Keras's regex and tf.strings.lower: apostrophe, dot and hyphen go, É stays
    ours = TextVectorization(vocabulary=["its", "dogeatdog", "école", "École", "a.b"])
    ids = ours(["It's DOG-EAT-DOG", "ÉCOLE école", "a.b"]).data
    np.testing.assert_array_equal(ids, [[2, 3], [5, 4], [1, 0]])


@pytest.mark.parametrize("max_tokens", [3, 4, 5, 9, 200])
@pytest.mark.parametrize("output_mode", ["int", "multi_hot", "count"])
def test_max_tokens_counts_the_reserved_entries(max_tokens, output_mode):
    theirs, ours = adapted_pair(max_tokens=max_tokens, output_mode=output_mode)
    assert_same_vocabulary(theirs, ours)
    assert ours.vocabulary_size() <= max_tokens
    assert_same_output(theirs, ours, QUERIES)


@pytest.mark.parametrize("length", [1, 3, 12])
def test_output_sequence_length_pads_and_truncates(length):
    theirs, ours = adapted_pair(output_sequence_length=length)
    assert_same_output(theirs, ours, QUERIES)
    assert ours(QUERIES).shape == (len(QUERIES), length)


@pytest.mark.parametrize("output_mode", ["multi_hot", "count", "tf_idf"])
@pytest.mark.parametrize("pad", [False, True])
def test_bag_of_words_modes(output_mode, pad):
    kwargs = dict(max_tokens=40, pad_to_max_tokens=True) if pad else {}
    theirs, ours = adapted_pair(output_mode=output_mode, **kwargs)
    assert_same_vocabulary(theirs, ours)
    tolerance = "float32" if output_mode == "tf_idf" else None
    assert_same_output(theirs, ours, QUERIES, tolerance)
    assert_same_output(theirs, ours, np.array(QUERIES)[:, None], tolerance)


@pytest.mark.parametrize("ngrams", [1, 2, 3, (2,), (2, 3)])
def test_ngrams(ngrams):
    theirs, ours = adapted_pair(ngrams=ngrams)
    assert_same_vocabulary(theirs, ours)
    assert_same_output(theirs, ours, QUERIES)


def test_ngrams_in_tf_idf_mode():
    theirs, ours = adapted_pair(ngrams=2, output_mode="tf_idf")
    assert_same_output(theirs, ours, QUERIES, "float32")


@pytest.mark.parametrize("data", [["a b c", "b"], ["x", "x y z"]], ids=["first-longer", "last-longer"])
def test_int_output_pads_to_the_longest_string(data):
    theirs, ours = adapted_pair(data=data)
    assert_same_output(theirs, ours, data)


def test_callable_standardize():
    # the same rule written for each library: Keras's gets a tf.string tensor, ours a NumPy array
    theirs = keras.layers.TextVectorization(
        standardize=lambda x: tf.strings.regex_replace(tf.strings.upper(x), "[AEIOU]", ""))
    ours = TextVectorization(standardize=lambda x: np.char.replace(np.char.replace(
        np.char.upper(x), "A", ""), "E", ""))
    data = ["a bee sat", "eel ale", "sea tea bat"]  # only a and e as vowels: the two rules agree
    theirs.adapt(data)
    ours.adapt(data)
    assert_same_vocabulary(theirs, ours)
    assert_same_output(theirs, ours, ["bee bat", "sat tea ale"])


def test_callable_split():
    theirs = keras.layers.TextVectorization(split=lambda x: tf.strings.split(x, sep=","))
    ours = TextVectorization(split=lambda x: [s.split(",") for s in x])
    data = ["a,b,c", "b,c", "c,d d"]
    theirs.adapt(data)
    ours.adapt(data)
    assert_same_vocabulary(theirs, ours)
    assert_same_output(theirs, ours, ["a,c", "d d,x"])


def test_bytes_are_decoded_with_the_encoding():
    theirs, ours = adapted_pair(data=[s.encode("utf-8") for s in CORPUS])
    assert_same_vocabulary(theirs, ours)
    assert_same_output(theirs, ours, [q.encode("utf-8") for q in QUERIES])


# -- shapes ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("split", ["whitespace", None])
@pytest.mark.parametrize("output_mode", ["int", "multi_hot"])
def test_input_shapes(split, output_mode):
    theirs, ours = adapted_pair(split=split, output_mode=output_mode)
    for data in [np.array(QUERIES), np.array(QUERIES)[:, None], "the cat sat"]:
        assert_same_output(theirs, ours, data)
    if split is None:
        assert_same_output(theirs, ours, np.array(QUERIES[:6]).reshape(3, 2))


def test_splitting_needs_a_last_axis_of_one():
    theirs, ours = adapted_pair()
    data = np.array(QUERIES[:6]).reshape(3, 2)
    with pytest.raises(ValueError):
        theirs(data)
    with pytest.raises(ValueError, match=r"shape \(3, 2\)"):
        ours(data)


# -- the vocabulary --------------------------------------------------------------------------------

def test_ties_are_broken_in_descending_token_order():
    data = ["pear apple fig", "fig kiwi", "apple date"]
    theirs, ours = adapted_pair(data=data)
    # by hand: counts apple 2, fig 2, then date, kiwi, pear once each; ties high to low
    expected = ["", "[UNK]", "fig", "apple", "pear", "kiwi", "date"]
    assert [str(t) for t in theirs.get_vocabulary()] == expected
    assert ours.get_vocabulary() == expected


def test_ties_among_non_ascii_tokens_follow_code_points():
    data = ["é e z ä ß ω Ω ǅ a"]
    theirs, ours = adapted_pair(data=data, standardize=None)
    assert_same_vocabulary(theirs, ours)


def test_special_tokens_in_the_data_are_not_learned():
    theirs, ours = adapted_pair(data=["[UNK] x [UNK]", "B b a A", ""], standardize=None)
    assert_same_vocabulary(theirs, ours)
    theirs, ours = adapted_pair(data=["", "a", ""], split=None)
    assert_same_vocabulary(theirs, ours)
    assert_same_output(theirs, ours, ["", "a", "b"])


def test_adapt_on_batched_datasets():
    dataset = tf.data.Dataset.from_tensor_slices(CORPUS).batch(5)
    for steps in (None, 1, 2):
        theirs, ours = pair(output_mode="tf_idf")
        theirs.adapt(dataset, steps=steps)
        ours.adapt(dataset, steps=steps)
        assert_same_vocabulary(theirs, ours)
        assert_same_output(theirs, ours, QUERIES, "float32")
    rows = tf.data.Dataset.from_tensor_slices(np.array(CORPUS)[:, None]).batch(4)
    theirs, ours = pair()
    theirs.adapt(rows)
    ours.adapt(rows)
    assert_same_vocabulary(theirs, ours)


def test_adapt_on_a_generator_of_batches():
    def batches():
        for start in range(0, len(CORPUS), 3):
            yield np.array(CORPUS[start:start + 3])
    theirs, ours = pair(output_mode="count")
    theirs.adapt(batches(), steps=3)
    ours.adapt(batches(), steps=3)
    assert_same_vocabulary(theirs, ours)
    assert_same_output(theirs, ours, QUERIES)


def test_adapt_on_arrays_of_one_string_per_row():
    theirs, ours = adapted_pair(data=np.array(CORPUS)[:, None], output_mode="tf_idf")
    assert_same_vocabulary(theirs, ours)
    assert_same_output(theirs, ours, QUERIES, "float32")


def test_adapt_again_replaces_the_vocabulary():
    theirs, ours = adapted_pair()
    theirs.adapt(["only these words", "these"])
    ours.adapt(["only these words", "these"])
    assert_same_vocabulary(theirs, ours)


def test_adapt_on_no_tokens_keeps_the_vocabulary():
    theirs, ours = adapted_pair()
    theirs.adapt(["", "  "])
    ours.adapt(["", "  "])
    assert_same_vocabulary(theirs, ours)


@pytest.mark.parametrize("output_mode", ["int", "multi_hot"])
@pytest.mark.parametrize("with_special", [False, True])
def test_vocabulary_argument_and_set_vocabulary(output_mode, with_special):
    words = ["earth", "wind", "and", "fire", "[UNK]x"]
    special = (["", "[UNK]"] if output_mode == "int" else ["[UNK]"]) if with_special else []
    theirs, ours = pair(vocabulary=special + words, output_mode=output_mode)
    assert_same_vocabulary(theirs, ours)
    assert_same_output(theirs, ours, ["earth and wind", "water and fire"])
    theirs, ours = adapted_pair(output_mode=output_mode, pad_to_max_tokens=True, max_tokens=30)
    theirs.set_vocabulary(special + words)
    ours.set_vocabulary(special + words)
    assert_same_vocabulary(theirs, ours)
    assert_same_output(theirs, ours, ["earth and wind", "water and fire"])


def test_unk_word_in_int_vocabulary_is_an_ordinary_token():
    theirs, ours = pair(vocabulary=["[UNK]", "a", "b"])
    assert_same_vocabulary(theirs, ours)


@pytest.mark.parametrize("with_special", [False, True])
@pytest.mark.parametrize("pad", [False, True])
def test_set_vocabulary_with_idf_weights(with_special, pad):
    vocabulary = (["[UNK]"] if with_special else []) + ["a", "b", "c"]
    idf = [0.25, 0.5, 2.0, 1.5][-len(vocabulary):]
    kwargs = dict(max_tokens=7, pad_to_max_tokens=True) if pad else {}
    theirs, ours = pair(output_mode="tf_idf", vocabulary=vocabulary, idf_weights=idf, **kwargs)
    assert_same_vocabulary(theirs, ours)
    assert_same_output(theirs, ours, ["a a b z z", "", "c"], "float32")


@pytest.mark.parametrize("vocabulary, kwargs", [
    (["a", "a", "b"], {}),                      # repeated term
    (["a", ""], {}),                            # padding token not first
    (["a", "b", "c"], dict(max_tokens=4)),      # 5 entries with "" and "[UNK]"
    ([], {}),                                   # empty
    (["a"], dict(output_mode="tf_idf")),        # tf_idf without idf_weights
], ids=["repeated", "mask-inside", "too-many", "empty", "tf_idf-without-idf"])
def test_bad_vocabularies_are_refused_as_keras_does(vocabulary, kwargs):
    with pytest.raises(ValueError):
        keras.layers.TextVectorization(vocabulary=vocabulary, **kwargs)
    with pytest.raises(ValueError):
        TextVectorization(vocabulary=vocabulary, **kwargs)


def test_set_vocabulary_refusal_changes_nothing():
    _, ours = adapted_pair()
    before = ours.get_vocabulary()
    with pytest.raises(ValueError, match=r"repeated terms \['x'\]"):
        ours.set_vocabulary(["x", "y", "x"])
    assert ours.get_vocabulary() == before


def test_bag_of_words_vocabulary_size_is_fixed_once_set():
    theirs, ours = adapted_pair(output_mode="multi_hot")
    with pytest.raises(RuntimeError):
        theirs.adapt(["x y z"])
    before = ours.get_vocabulary()
    with pytest.raises(RuntimeError, match=r"vocabulary size from \d+ to 4"):
        ours.adapt(["x y z"])
    assert ours.get_vocabulary() == before


def test_adapt_after_a_vocabulary_argument_is_refused():
    theirs, ours = pair(vocabulary=["a", "b"])
    with pytest.raises(ValueError):
        theirs.adapt(["c"])
    with pytest.raises(ValueError, match="`vocabulary` argument"):
        ours.adapt(["c"])
    assert ours.get_vocabulary() == ["", "[UNK]", "a", "b"]


_TEXT = st.text(alphabet=list("abcABC .,'-!?\t\n") + ["É", "é", "\u00a0", "ß"], max_size=20)


@given(corpus=st.lists(_TEXT, min_size=1, max_size=6), queries=st.lists(_TEXT, min_size=1, max_size=4),
       max_tokens=st.one_of(st.none(), st.integers(3, 8)))
def test_random_text_matches_keras(corpus, queries, max_tokens):
    # Keras cannot call a layer that learned no token (its lookup table stays empty)
    theirs, ours = adapted_pair(data=corpus + ["anchor"], max_tokens=max_tokens)
    assert_same_vocabulary(theirs, ours)
    assert_same_output(theirs, ours, queries)


# -- configs and whole models ----------------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [
    dict(), dict(output_mode="multi_hot"), dict(output_mode="tf_idf", max_tokens=20,
                                                pad_to_max_tokens=True),
    dict(ngrams=(1, 2), output_sequence_length=5, split="character", standardize="lower"),
], ids=["int", "multi_hot", "tf_idf", "ngrams"])
def test_config_round_trip_keeps_the_vocabulary(kwargs):
    theirs, ours = adapted_pair(**kwargs)
    rebuilt = TextVectorization.from_config(ours.get_config())
    assert_same_vocabulary(theirs, rebuilt)
    tolerance = "float32" if kwargs.get("output_mode") == "tf_idf" else None
    assert_same_output(theirs, rebuilt, QUERIES, tolerance)
    if not kwargs:  # an adapted layer stays adaptable after loading
        rebuilt.adapt(["fresh words"])
        assert rebuilt.get_vocabulary() == ["", "[UNK]", "words", "fresh"]


def _text_model(lib, input_shape):
    ly = lib.layers
    inputs = lib.Input(shape=input_shape, dtype="string")
    vectorize = ly.TextVectorization(max_tokens=14, output_sequence_length=5, name="vectorize")
    vectorize.adapt(TRAIN_TEXTS)
    x = ly.Embedding(14, 5, mask_zero=True, name="embed")(vectorize(inputs))
    x = ly.LSTM(4, name="rnn")(x)
    return lib.Model(inputs, ly.Dense(1, activation="sigmoid", name="head")(x))


TRAIN_TEXTS = np.array(["good movie", "bad film", "great fun!", "awful plot.", "good fun film",
                        "bad, bad movie", "great great", "awful", "a good plot", "not fun"],
                       dtype=object)
TRAIN_LABELS = np.array([1, 0, 1, 0, 1, 0, 1, 0, 1, 0], dtype="float32")


@pytest.mark.parametrize("input_shape", [(), (1,)], ids=["shape()", "shape(1,)"])
def test_string_model_trains_like_keras(input_shape, tmp_path):
    keras.utils.set_random_seed(3)
    theirs = _text_model(keras, input_shape)
    ours = _text_model(minirnn, input_shape)
    ours.set_weights(theirs.get_weights())
    # SGD: Keras on TensorFlow gives an Embedding sparse gradients, which its Adam treats
    # differently from a dense gradient (see test_models_tf.py)
    for model, optimizer in ((theirs, keras.optimizers.SGD(0.5, momentum=0.9)),
                             (ours, minirnn.optimizers.SGD(0.5, momentum=0.9))):
        model.compile(optimizer, "binary_crossentropy")
    texts = TRAIN_TEXTS.astype(str).reshape((-1,) + input_shape)
    dataset = tf.data.Dataset.from_tensor_slices((texts, TRAIN_LABELS)).batch(4)
    expected = theirs.fit(dataset, epochs=3, shuffle=False, verbose=0).history["loss"]
    # a 1-D object array of strings, whichever the Input's shape
    got = ours.fit(TRAIN_TEXTS, TRAIN_LABELS, epochs=3, batch_size=4, shuffle=False,
                   verbose=0).history["loss"]
    assert_close(got, expected, "float32")
    queries = np.array(["good fun", "awful film", "unseen words"], dtype=object)
    predicted = np.asarray(theirs(tf.constant(queries.astype(str).reshape((-1,) + input_shape))))
    assert_close(ours.predict(queries), predicted, "float32")
    assert_close(ours.evaluate(TRAIN_TEXTS, TRAIN_LABELS, verbose=0),
                 theirs.evaluate(dataset, verbose=0), "float32")

    path = tmp_path / "text_model.npz"
    ours.save(path)
    loaded = minirnn.models.load_model(path)
    assert loaded.layers[1].get_vocabulary() == ours.layers[1].get_vocabulary()  # [0]: the InputLayer
    assert_close(loaded.predict(queries), predicted, "float32")


def test_sequential_text_model_fits_and_saves(tmp_path):
    model = minirnn.Sequential([TextVectorization(vocabulary=["good", "bad", "fun"]),
                                minirnn.layers.Embedding(5, 3), minirnn.layers.GRU(2),
                                minirnn.layers.Dense(1)])
    model.compile("adam", "mse")
    model.fit(TRAIN_TEXTS, TRAIN_LABELS, epochs=2, verbose=0)
    path = tmp_path / "sequential.npz"
    model.save(path)
    loaded = minirnn.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(TRAIN_TEXTS), model.predict(TRAIN_TEXTS), rtol=1e-6)
    assert loaded.layers[0].get_vocabulary() == ["", "[UNK]", "good", "bad", "fun"]


# -- bad input -------------------------------------------------------------------------------------

def test_numbers_into_text_vectorization_are_refused():
    _, ours = adapted_pair()
    for bad in (np.array([1, 2]), [1.5, 2.5], ["a", 3], np.array([["a"], [None]], dtype=object)):
        with pytest.raises(TypeError, match=r"TextVectorization '.*' expects strings"):
            ours(bad)
        with pytest.raises(TypeError, match=r"expects strings"):
            ours.adapt(bad)


def test_failed_adapt_changes_nothing():
    _, ours = adapted_pair()
    before = ours.get_vocabulary()

    def batches():
        yield np.array(["new words"])
        yield np.array([1, 2])
    with pytest.raises(TypeError, match=r"batch 1"):
        ours.adapt(batches())
    assert ours.get_vocabulary() == before


def test_strings_are_still_refused_everywhere_else():
    with pytest.raises(TypeError, match=r"Dense '.*' expects bool, integer or real"):
        minirnn.layers.Dense(2)(np.array([["a", "b"]]))
    with pytest.raises(TypeError, match=r"LSTM '.*' expects bool, integer or real"):
        minirnn.layers.LSTM(2)(np.array([[["a"]]], dtype=object))
    numbers = minirnn.Input(shape=(3,))
    model = minirnn.Model(numbers, minirnn.layers.Dense(1)(numbers))
    model.compile("adam", "mse")
    with pytest.raises(TypeError, match=r"x of model .* expects bool, integer or real"):
        model.fit(np.array([["a", "b", "c"]]), np.ones(1), verbose=0)


def test_text_model_refuses_numbers():
    model = _text_model(minirnn, ())
    model.compile("adam", "binary_crossentropy")
    with pytest.raises(TypeError, match=r"x of model .* expects strings"):
        model.fit(np.arange(4.0), np.ones(4), verbose=0)
    with pytest.raises(TypeError, match=r"x of model .* expects strings"):
        model.predict(np.arange(4))


@pytest.mark.parametrize("kwargs, error, pattern", [
    (dict(output_mode="one_hot"), ValueError, r"output_mode.*\['int', 'multi_hot', 'count', 'tf_idf'\]"),
    (dict(output_mode="bag"), ValueError, r"output_mode.*\['int', 'multi_hot', 'count', 'tf_idf'\]"),
    (dict(standardize="upper"), ValueError, r"standardize.*'lower_and_strip_punctuation'"),
    (dict(split="comma"), ValueError, r"split.*\['whitespace', 'character'\]"),
    (dict(sparse=True), ValueError, r"sparse=True is not supported"),
    (dict(ragged=True), ValueError, r"ragged=True is not supported"),
    (dict(max_tokens=1), ValueError, r"max_tokens.*greater than 1"),
    (dict(max_tokens=2.5), TypeError, r"max_tokens.*must be an int"),
    (dict(pad_to_max_tokens=True), ValueError, r"pad_to_max_tokens.*needs `max_tokens`"),
    (dict(output_mode="multi_hot", output_sequence_length=3), ValueError,
     r"output_sequence_length.*'int' only"),
    (dict(output_sequence_length=0), ValueError, r"output_sequence_length.*>= 1"),
    (dict(ngrams=0), ValueError, r"ngrams.*>= 1"),
    (dict(ngrams="2"), TypeError, r"ngrams.*must be an int"),
    (dict(idf_weights=[1.0]), ValueError, r"idf_weights.*'tf_idf' only"),
    (dict(encoding="no-such-codec"), ValueError, r"encoding.*codec"),
    (dict(vocabulary="vocab.txt"), ValueError, r"files are not read"),
])
def test_bad_arguments(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        TextVectorization(**kwargs)


def test_bag_of_words_needs_a_vocabulary_before_a_call():
    with pytest.raises(RuntimeError, match=r"needs a vocabulary before it is called"):
        TextVectorization(output_mode="count")(["a b"])


@minirnn.saving.register_keras_serializable(package="text_tests")
def shout(texts):
    return np.char.upper(texts)


def test_registered_standardize_function_survives_save_and_load(tmp_path):
    inputs = minirnn.Input(shape=(), dtype="string")
    vectorize = TextVectorization(standardize=shout, vocabulary=["GOOD", "BAD"])
    model = minirnn.Model(inputs, vectorize(inputs))
    model.save(tmp_path / "shout.npz")
    loaded = minirnn.models.load_model(tmp_path / "shout.npz")
    # by hand: upper-cased words found at 2 and 3, the rest [UNK]
    np.testing.assert_array_equal(loaded.predict(np.array(["good bad", "so good"])),
                                  [[2, 3], [1, 2]])


def test_a_lambda_standardize_cannot_be_saved():
    layer = TextVectorization(standardize=lambda x: x)
    with pytest.raises(ValueError, match=r"TextVectorization '.*' standardize .*lambda"):
        layer.get_config()
