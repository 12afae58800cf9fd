"""Text preprocessing with Keras 3's TextVectorization: strings in, token ids (or bag-of-words
vectors) out, with NumPy and Python's `re` only.

A string goes through five steps, each as Keras's TensorFlow ops do it:
  1. standardize: ASCII letters lowercased (tf.strings.lower leaves "É" as it is), then ASCII
     punctuation removed with Keras's own pattern (apostrophes, dots and hyphens included, so
     "It's" becomes "its" and "dog-eat-dog" becomes "dogeatdog");
  2. split: on runs of ASCII whitespace (space, \\t, \\n, \\v, \\f, \\r; not the Unicode spaces),
     or into code points;
  3. ngrams: the n-grams of each width, widths in order, words joined by one space;
  4. lookup in the vocabulary: in "int" mode 0 is padding (the empty string) and 1 is "[UNK]";
     in the other modes "[UNK]" is 0 and the empty string is dropped;
  5. output: ids padded with 0 (or cut) to one length, or one row of counts per string.

The vocabulary comes from `adapt` (tokens by count, ties in DESCENDING order of the tokens: a
quirk of Keras's reversed lexsort, kept so a vocabulary learned here matches Keras's) or from
`vocabulary=` / `set_vocabulary`.
"""
from __future__ import annotations

import codecs
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..checks import (as_checked_array, as_checked_text_array, check_bool, check_choice, check_int,
                      positive_int)
from ..hints import ArrayLike
from ..tensor import Tensor, floatx
from .base import Layer

__all__ = ["TextVectorization"]

# Keras's pattern (text_vectorization.py), character for character: ",-\." is the range , - .
_PUNCTUATION = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')
_ASCII_LOWER = {code: code + 32 for code in range(ord("A"), ord("Z") + 1)}
# tf.strings.split splits on the C locale's isspace, which knows no Unicode spaces
_ASCII_TOKEN = re.compile(r"[^ \t\n\v\f\r]+")

_STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation")
_SPLIT = ("whitespace", "character")
_OUTPUT_MODES = ("int", "multi_hot", "count", "tf_idf")
_MODE_ALIASES = {"binary": "multi_hot", "tf-idf": "tf_idf"}  # Keras's older names
_MASK, _OOV = "", "[UNK]"


def _arg(name):
    return f"TextVectorization argument `{name}`"


def _function_reference(layer, what, fn):
    from ..saving import serialization  # late: saving sits above layers
    return serialization.function_reference(fn, f"TextVectorization '{layer.name}' {what}")


def _resolve_function(layer, what, reference):
    from ..saving import serialization  # late: saving sits above layers
    return serialization.resolve_function(reference, f"TextVectorization '{layer.name}' {what}")


class TextVectorization(Layer):
    """Maps strings to token ids ("int") or to one vector per string ("multi_hot", "count",
    "tf_idf"), as keras.layers.TextVectorization does.

    Input: strings of shape (B,) or (B, 1) (any str / bytes array; bytes are decoded with
    `encoding`). Output in "int" mode: int64 ids of shape (B, L), L the longest string's token
    count or `output_sequence_length`; in the other modes shape (B, depth), depth the vocabulary
    size (or `max_tokens` with `pad_to_max_tokens`), int64 for "multi_hot" and "count" (what
    Keras's layer returns when called) and floatx for "tf_idf". With split=None each string is one
    token and the last axis is the token axis, as in Keras.

    A callable `standardize` gets a NumPy array of str and returns one of the same shape; a
    callable `split` gets a 1-D NumPy array of str and returns one sequence of tokens per string.

    A layer that was never adapted and has no vocabulary maps every token to "[UNK]" in "int"
    mode; the other modes then need `pad_to_max_tokens=True` (Keras raises in both cases).
    A vocabulary is not a weight: `get_config` holds it (and the idf weights), so a model saved
    to a .npz file keeps it. `vocabulary` and `set_vocabulary` take a list or array of strings,
    not a file path. `sparse` and `ragged` outputs do not exist here (Keras has them with
    TensorFlow only).
    """
    accepts_strings = True

    def __init__(self, max_tokens: int | None = None,
                 standardize: str | Callable[[np.ndarray], Any] | None =
                 "lower_and_strip_punctuation",
                 split: str | Callable[[np.ndarray], Any] | None = "whitespace",
                 ngrams: int | tuple[int, ...] | None = None, output_mode: str = "int",
                 output_sequence_length: int | None = None, pad_to_max_tokens: bool = False,
                 vocabulary: ArrayLike | None = None, idf_weights: ArrayLike | None = None,
                 sparse: bool = False, ragged: bool = False, encoding: str = "utf-8",
                 name: str | None = None, **kwargs: Any) -> None:
        # from a saved config, as Keras keeps them: whether `vocabulary` was given (then adapt is
        # refused) and the vocabulary size that fixes the output width of the non-int modes
        has_input_vocabulary = kwargs.pop("has_input_vocabulary", vocabulary is not None)
        frozen_size = kwargs.pop("vocabulary_size", None)
        super().__init__(name=name, **kwargs)
        self.max_tokens = None if max_tokens is None else check_int(max_tokens, _arg("max_tokens"))
        if self.max_tokens is not None and self.max_tokens <= 1:
            raise ValueError(f"{_arg('max_tokens')} must be None or an int greater than 1 (it "
                             f"counts the reserved entries); got {self.max_tokens}")
        self.standardize = self._function_or_choice(standardize, "standardize", _STANDARDIZE)
        self.split = self._function_or_choice(split, "split", _SPLIT)
        self.ngrams, self._ngram_widths = self._checked_ngrams(ngrams)
        if isinstance(output_mode, str):
            output_mode = _MODE_ALIASES.get(output_mode, output_mode)
        self.output_mode = check_choice(output_mode, _arg("output_mode"), _OUTPUT_MODES)
        if output_sequence_length is not None:
            if self.output_mode != "int":
                raise ValueError(f"{_arg('output_sequence_length')} applies to output_mode='int' "
                                 f"only; got output_sequence_length={output_sequence_length!r} "
                                 f"with output_mode={self.output_mode!r}")
            output_sequence_length = positive_int(output_sequence_length,
                                                  _arg("output_sequence_length"))
        self.output_sequence_length = output_sequence_length
        self.pad_to_max_tokens = check_bool(pad_to_max_tokens, _arg("pad_to_max_tokens"))
        if self.pad_to_max_tokens and self.max_tokens is None:
            raise ValueError(f"{_arg('pad_to_max_tokens')}: pad_to_max_tokens=True needs `max_tokens`; got "
                             f"max_tokens=None")
        if check_bool(sparse, _arg("sparse")):
            raise ValueError(f"{_arg('sparse')}: sparse=True is not supported: minirnn has no sparse "
                             f"tensors (Keras offers it with TensorFlow only); use sparse=False")
        if check_bool(ragged, _arg("ragged")):
            raise ValueError(f"{_arg('ragged')}: ragged=True is not supported: minirnn has no ragged "
                             f"tensors (Keras offers it with TensorFlow only); use ragged=False "
                             f"and output_sequence_length to fix the length")
        if not isinstance(encoding, str):
            raise TypeError(f"{_arg('encoding')} must be a codec name such as 'utf-8'; got "
                            f"{encoding!r} of type {type(encoding).__name__}")
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ValueError(f"{_arg('encoding')} must be a codec Python knows, such as 'utf-8'; "
                             f"got {encoding!r}") from None
        self.encoding = encoding
        if idf_weights is not None and self.output_mode != "tf_idf":
            raise ValueError(f"{_arg('idf_weights')} applies to output_mode='tf_idf' only; got "
                             f"output_mode={self.output_mode!r}")
        if vocabulary is not None and self.output_mode == "tf_idf" and idf_weights is None:
            raise ValueError(f"TextVectorization with `vocabulary` and output_mode='tf_idf' needs "
                             f"`idf_weights` too (one per vocabulary entry)")
        self._has_input_vocabulary = check_bool(has_input_vocabulary, "has_input_vocabulary")
        self._frozen_size = None if frozen_size is None else positive_int(frozen_size,
                                                                          "vocabulary_size")
        self._tokens, self._index, self._idf = [], {}, None
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)

    # -- arguments --------------------------------------------------------------------------
    def _function_or_choice(self, value, name, choices):
        if value is None or callable(value):
            return value
        if isinstance(value, str) and value not in choices and (":" in value or ">" in value):
            return _resolve_function(self, name, value)  # a function named in a saved config
        if not isinstance(value, str) or value not in choices:
            raise ValueError(f"{_arg(name)} must be one of {list(choices)}, None or a callable; "
                             f"got {value!r}")
        return value

    @staticmethod
    def _checked_ngrams(ngrams):
        if ngrams is None:
            return None, None
        if isinstance(ngrams, list):  # a tuple comes back from JSON as a list
            ngrams = tuple(ngrams)
        widths = (ngrams,) if not isinstance(ngrams, tuple) else ngrams
        if not widths:
            raise ValueError(f"{_arg('ngrams')} must be None, an int >= 1 or a tuple of ints >= 1; "
                             f"got an empty tuple")
        widths = tuple(positive_int(w, _arg("ngrams")) for w in widths)
        # an int n means every width from 1 to n, as in Keras
        return ngrams, tuple(range(1, widths[0] + 1)) if not isinstance(ngrams, tuple) else widths

    # -- vocabulary -------------------------------------------------------------------------
    def _token_start(self):
        """Index of the first learned token: after "" and "[UNK]" ("int") or "[UNK]" alone."""
        return 2 if self.output_mode == "int" else 1

    def _special_tokens(self):
        return [_MASK, _OOV] if self.output_mode == "int" else [_OOV]

    def get_vocabulary(self, include_special_tokens: bool = True) -> list[str]:
        """The vocabulary as a list of str; with the special tokens, a token's position is the
        index the layer gives it."""
        special = check_bool(include_special_tokens, "get_vocabulary() argument "
                                                     "include_special_tokens")
        return (self._special_tokens() if special else []) + list(self._tokens)

    def vocabulary_size(self) -> int:
        """The number of entries of the vocabulary, special tokens included."""
        return self._token_start() + len(self._tokens)

    def _check_size_unchanged(self, size):
        # the non-int modes' output width is the vocabulary size: once fixed (by a vocabulary or an
        # adapt) it must not change under a model built on it
        if self.output_mode == "int" or self.pad_to_max_tokens:
            return
        if self._frozen_size is not None and size != self._frozen_size:
            raise RuntimeError(f"TextVectorization '{self.name}' with output_mode="
                               f"{self.output_mode!r} and pad_to_max_tokens=False cannot change "
                               f"its vocabulary size from {self._frozen_size} to {size}: its "
                               f"output width is the vocabulary size")

    def _commit(self, tokens, idf):
        self._tokens, self._index, self._idf = tokens, {t: i for i, t in enumerate(tokens)}, idf
        if self.output_mode != "int" and not self.pad_to_max_tokens:
            self._frozen_size = self.vocabulary_size()

    def set_vocabulary(self, vocabulary: ArrayLike,
                       idf_weights: ArrayLike | None = None) -> None:
        """Use `vocabulary` (a list or 1-D array of strings; "" and "[UNK]" at its start are
        taken as the special tokens) and, for "tf_idf", one idf weight per entry."""
        what = f"TextVectorization '{self.name}' set_vocabulary()"
        if self.output_mode == "tf_idf" and idf_weights is None:
            raise ValueError(f"{what} needs `idf_weights` with output_mode='tf_idf'")
        if self.output_mode != "tf_idf" and idf_weights is not None:
            raise ValueError(f"{what}: `idf_weights` applies to output_mode='tf_idf' only; "
                             f"output_mode is {self.output_mode!r}")
        if isinstance(vocabulary, (str, bytes)):
            raise ValueError(f"{what} takes a list or 1-D array of strings; got the string "
                             f"{vocabulary!r} (vocabulary files are not read: read the lines and "
                             f"pass them as a list)")
        vocabulary = as_checked_text_array(
            vocabulary.data if isinstance(vocabulary, Tensor) else vocabulary,
            f"{what} argument vocabulary")
        if vocabulary.ndim != 1:
            raise ValueError(f"{what} argument vocabulary must be 1-D; got shape {vocabulary.shape}")
        vocabulary = [self._decoded(t) for t in vocabulary]
        if not vocabulary:
            raise ValueError(f"{what} cannot set an empty vocabulary")
        start, special = self._token_start(), self._special_tokens()
        found_special = vocabulary[:start] == special
        tokens = vocabulary[start:] if found_special else vocabulary
        repeated = sorted(t for t, n in Counter(tokens).items() if n > 1)
        if repeated:
            raise ValueError(f"{what} got repeated terms {repeated}: each term must appear once")
        if _MASK in tokens:
            raise ValueError(f"{what} got the padding token '' at index "
                             f"{len(vocabulary) - 1 - vocabulary[::-1].index(_MASK)}: leave the "
                             f"special tokens out, or put them first, in this order: {special}")
        size = start + len(tokens)
        if self.max_tokens is not None and size > self.max_tokens:
            raise ValueError(f"{what} got a vocabulary of {size} entries (special tokens "
                             f"included); max_tokens is {self.max_tokens}")
        idf = None
        if idf_weights is not None:
            idf = as_checked_array(idf_weights.data if isinstance(idf_weights, Tensor)
                                   else idf_weights, f"{what} argument idf_weights")
            if idf.ndim != 1 or len(idf) != len(vocabulary):
                raise ValueError(f"{what} argument idf_weights must be 1-D with one weight per "
                                 f"vocabulary entry ({len(vocabulary)}); got shape {idf.shape}")
            idf = idf.astype(np.float64)
            # "[UNK]" has no document frequency of its own: it gets the mean weight, as in Keras
            front = [] if found_special else [np.mean(idf)] * start
            back = [0.0] * (self.max_tokens - size) if self.pad_to_max_tokens else []
            idf = np.concatenate([front, idf, back]).astype(floatx())
        self._check_size_unchanged(size)
        self._commit(tokens, idf)

    # -- adapt ------------------------------------------------------------------------------
    def adapt(self, data: ArrayLike | Iterable[Any], batch_size: int | None = None,
              steps: int | None = None) -> None:
        """Learn the vocabulary from `data`: a list or array of strings, or an iterable of
        batches of strings (a generator, a dataset); at most `steps` batches of an iterable.
        `batch_size` is accepted for Keras's signature; counts do not depend on it."""
        if batch_size is not None:
            positive_int(batch_size, "adapt() argument batch_size")
        if steps is not None:
            steps = positive_int(steps, "adapt() argument steps")
        if self._has_input_vocabulary:
            raise ValueError(f"TextVectorization '{self.name}' cannot adapt: its vocabulary was "
                             f"given by the `vocabulary` argument")
        counts, document_counts, documents = Counter(), Counter(), 0
        for batch in self._adapt_batches(data, steps):
            _, rows, _ = self._preprocess(batch)
            for row in rows:
                counts.update(row)
                if self.output_mode == "tf_idf":
                    document_counts.update(set(row))
            documents += len(rows)
        if not counts:  # nothing seen: Keras keeps the vocabulary it had
            return
        for special in (_MASK, _OOV):
            counts.pop(special, None)
        # by count, ties broken by the token, both descending (Keras's lexsort, reversed)
        tokens = [t for t, _ in sorted(counts.items(), key=lambda item: (item[1], item[0]),
                                       reverse=True)]
        if self.max_tokens is not None:
            tokens = tokens[:self.max_tokens - self._token_start()]
        idf = None
        if self.output_mode == "tf_idf":
            learned = np.log(1.0 + documents / (1.0 + np.array([document_counts[t] for t in tokens],
                                                                dtype=np.float64)))
            learned = learned.astype(floatx())
            unknown = learned.mean() if len(learned) else np.float32(np.nan)
            back = self.max_tokens - self._token_start() - len(tokens) if self.pad_to_max_tokens else 0
            idf = np.concatenate([np.full(self._token_start(), unknown), learned,
                                  np.zeros(back)]).astype(floatx())
        self._check_size_unchanged(self._token_start() + len(tokens))
        self._commit(tokens, idf)

    def _adapt_batches(self, data, steps):
        what = f"TextVectorization '{self.name}' adapt() data"
        if isinstance(data, (list, tuple, np.ndarray, Tensor, str, bytes)) or not hasattr(data, "__iter__"):
            array = as_checked_text_array(data.data if isinstance(data, Tensor) else data, what)
            # one sample per string, as Keras expands a 1-D array to (n, 1)
            yield array[:, None] if array.ndim == 1 else array
            return
        for i, batch in enumerate(data):
            if steps is not None and i >= steps:
                break
            yield as_checked_text_array(batch.data if isinstance(batch, Tensor) else batch,
                                        f"{what} (batch {i})")

    # -- the five steps ---------------------------------------------------------------------
    def _decoded(self, text):
        if isinstance(text, str):
            return text
        try:
            return text.decode(self.encoding)
        except UnicodeDecodeError as error:
            raise ValueError(f"TextVectorization '{self.name}' cannot decode {text!r} with "
                             f"encoding {self.encoding!r}: {error}") from None

    def _standardized(self, texts):
        """texts: an object array of str. Returns one of the same shape."""
        if self.standardize is None:
            return texts
        if callable(self.standardize):
            result = self.standardize(texts.astype(str) if texts.size else texts.astype("U1"))
            result = as_checked_text_array(result.data if isinstance(result, Tensor) else result,
                                           f"the result of TextVectorization '{self.name}' "
                                           f"standardize")
            if result.shape != texts.shape:
                raise ValueError(f"TextVectorization '{self.name}' standardize must return the "
                                 f"shape it was given, {texts.shape}; got {result.shape}")
            return np.vectorize(self._decoded, otypes=[object])(result) if result.size else result
        out = np.empty(texts.shape, dtype=object)
        lower = self.standardize in ("lower", "lower_and_strip_punctuation")
        strip = self.standardize in ("strip_punctuation", "lower_and_strip_punctuation")
        for i, text in enumerate(texts.flat):
            if lower:
                text = text.translate(_ASCII_LOWER)
            if strip:
                text = _PUNCTUATION.sub("", text)
            out.flat[i] = text
        return out

    def _split_rows(self, texts):
        """texts: a 1-D object array of str -> one list of tokens per string."""
        if self.split == "whitespace":
            return [_ASCII_TOKEN.findall(t) for t in texts]
        if self.split == "character":
            return [list(t) for t in texts]
        result = self.split(texts.astype(str) if texts.size else texts.astype("U1"))
        result = result.data if isinstance(result, Tensor) else result
        if isinstance(result, np.ndarray) and result.ndim == 2:
            result = list(result)
        if not isinstance(result, (list, tuple, np.ndarray)) or len(result) != len(texts):
            raise ValueError(f"TextVectorization '{self.name}' split must return one sequence of "
                             f"tokens per string ({len(texts)}); got {type(result).__name__}"
                             + (f" of length {len(result)}" if hasattr(result, "__len__") else ""))
        what = f"the result of TextVectorization '{self.name}' split"
        return [[self._decoded(t) for t in as_checked_text_array(list(row), what).ravel()]
                for row in result]

    def _ngram_rows(self, rows):
        if self._ngram_widths is None:
            return rows
        return [[" ".join(row[i:i + width]) for width in self._ngram_widths
                 for i in range(len(row) - width + 1)] for row in rows]

    def _preprocess(self, texts):
        """texts: an object array of str / bytes. Returns (leading shape, rows, scalar): one list of
        tokens per position of the leading shape (the token axis is the last), and whether the
        input was one string that split=None leaves a scalar."""
        texts = np.vectorize(self._decoded, otypes=[object])(texts) if texts.size else texts
        texts = self._standardized(texts)
        if self.split is None:
            scalar = texts.ndim == 0
            texts = texts.reshape(1) if scalar else texts
            lead = texts.shape[:-1]
            rows = [list(row) for row in texts.reshape(-1, texts.shape[-1])] if texts.shape[-1] \
                else [[] for _ in range(math.prod(lead))]
            return lead, self._ngram_rows(rows), scalar
        if texts.ndim > 1:
            if texts.shape[-1] != 1:
                raise ValueError(f"TextVectorization '{self.name}' splits strings of shape (batch,) "
                                 f"or (batch, 1); got shape {texts.shape} (rank > 1 needs a last "
                                 f"axis of size 1)")
            texts = texts[..., 0]
        return texts.shape, self._ngram_rows(self._split_rows(texts.reshape(-1))), False

    # -- calling ----------------------------------------------------------------------------
    def _convert(self, x):
        """Text only: numbers are refused here with TypeError, whatever the base layer allows."""
        return Tensor(as_checked_text_array(x.data if isinstance(x, Tensor) else x,
                                            self._describe()))

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(inputs, (list, tuple)):  # a list of strings is one input, not several
            inputs = self._convert(inputs)
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs):
        lead, rows, scalar = self._preprocess(inputs.data)
        if self.output_mode == "int":
            return Tensor(self._ids(rows).reshape(() if scalar else lead + (-1,)))
        return Tensor(self._encoded(rows).reshape(lead + (-1,)))

    def _ids(self, rows):
        length = self.output_sequence_length
        if length is None:
            length = max((len(row) for row in rows), default=0)
        ids = np.zeros((len(rows), length), dtype=np.int64)
        start, index = self._token_start(), self._index
        for r, row in enumerate(rows):
            ids[r, :len(row[:length])] = [0 if t == _MASK else index[t] + start if t in index else 1
                                          for t in row[:length]]
        return ids

    def _encoded(self, rows):
        if self.pad_to_max_tokens:
            depth = self.max_tokens
        elif self._frozen_size is not None:
            depth = self._frozen_size
        else:
            raise RuntimeError(f"TextVectorization '{self.name}' with output_mode="
                               f"{self.output_mode!r} and pad_to_max_tokens=False needs a "
                               f"vocabulary before it is called: pass `vocabulary` or call adapt()")
        if self.output_mode == "tf_idf" and self._idf is None:
            raise RuntimeError(f"TextVectorization '{self.name}' with output_mode='tf_idf' needs "
                               f"idf weights before it is called: call adapt() or set_vocabulary()")
        counts = np.zeros((len(rows), depth), dtype=np.int64)
        start, index = self._token_start(), self._index
        for r, row in enumerate(rows):
            ids = [index[t] + start if t in index else 0 for t in row if t != _MASK]
            np.add.at(counts[r], np.array(ids, dtype=np.int64), 1)
        if self.output_mode == "multi_hot":
            return np.minimum(counts, 1)
        if self.output_mode == "count":
            return counts
        return counts.astype(floatx()) * self._idf

    # -- configuration ----------------------------------------------------------------------
    def get_config(self):
        """Keras's keys. Unlike Keras (which writes a learned vocabulary to an asset file),
        `vocabulary` holds the vocabulary in use, special tokens first, and `idf_weights` its
        weights, so that the config alone rebuilds the layer; `has_input_vocabulary` says
        whether adapt stays allowed."""
        def function_or_name(what, value):
            return _function_reference(self, what, value) if callable(value) else value
        vocabulary = self.get_vocabulary() if self._tokens else None
        idf = None
        if self._idf is not None and vocabulary is not None:
            idf = [float(w) for w in self._idf[:self.vocabulary_size()]]
        return {**super().get_config(), "max_tokens": self.max_tokens,
                "standardize": function_or_name("standardize", self.standardize),
                "split": function_or_name("split", self.split),
                "ngrams": list(self.ngrams) if isinstance(self.ngrams, tuple) else self.ngrams,
                "output_mode": self.output_mode,
                "output_sequence_length": self.output_sequence_length,
                "pad_to_max_tokens": self.pad_to_max_tokens, "sparse": False, "ragged": False,
                "vocabulary": vocabulary, "idf_weights": idf, "encoding": self.encoding,
                "vocabulary_size": self._frozen_size,
                "has_input_vocabulary": self._has_input_vocabulary}
