"""Attention layers.

Two families live here:

* `Attention` (dot-product, Luong-style) and `AdditiveAttention` (Bahdanau-style): Keras 3's layers
  with Keras's call signature, weights and numerics, so weights move between the two unchanged.
  inputs [query (B, Tq, dim), value (B, Tv, dim_v)] or [query, value, key (B, Tv, dim)];
  output (B, Tq, dim_v) and, with return_attention_scores, the weights (B, Tq, Tv).
* `LuongAttention` and `BahdanauAttention`: the papers' attention with its own learned projections,
  made to be called inside a decoder step: inputs [query, values], query (B, dim_q) for one decoder
  step or (B, Tq, dim_q), values (B, Tv, dim_v); returns (context, weights).

Every score below is a (B, Tq, Tv) tensor: row i holds query step i's score for each value step.
Each layer also takes the Layer keywords (name, dtype, trainable, ...) through **kwargs.
"""
from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .. import initializers, ops
from ..checks import check_bool, check_choice, check_fraction, non_negative_int, positive_int
from ..hints import InitializerLike, Seed, Shape
from ..random import generator
from ..tensor import Tensor, primitive
from .base import Layer

__all__ = ["Attention", "AdditiveAttention", "LuongAttention", "BahdanauAttention",
           "masked_softmax"]


@primitive
def masked_softmax(scores, mask=None):
    """softmax over the last axis of `scores`, taken only over positions where `mask` is True.

    mask: booleans broadcastable to scores.shape (static: it gets no gradient), or None for all.
    Masked positions get weight exactly 0; a row with every position masked gets all zeros (and
    zero gradient) instead of a division by zero.
    """
    keep = np.broadcast_to(True if mask is None else mask, scores.shape)
    top = np.where(keep, scores, -np.inf).max(axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    e = np.where(keep, np.exp(np.where(keep, scores - top, 0.0)), 0.0).astype(scores.dtype)
    total = e.sum(axis=-1, keepdims=True)
    y = e / np.where(total > 0, total, 1.0).astype(scores.dtype)
    return y, lambda g: (y * (g - (g * y).sum(axis=-1, keepdims=True)),)


# -- helpers -------------------------------------------------------------------------------------

def _shape(x):
    """The shape of a Tensor, SymbolicTensor, array or nested list (None for unknown sizes)."""
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


def _agree(a, b):
    return a is None or b is None or a == b


def _as_mask(mask):
    if mask is None:
        return None
    return np.asarray(mask.data if isinstance(mask, Tensor) else mask).astype(bool, copy=False)


def _is_array_like(x):
    return x is None or isinstance(x, (np.ndarray, Tensor)) or hasattr(x, "shape")


def _check_mask(layer, what, mask, expected):
    """mask must have shape `expected` (None entries match any size)."""
    if mask is None:
        return
    got = _shape(mask)
    if len(got) != len(expected) or not all(_agree(g, e) for g, e in zip(got, expected)):
        shown = tuple("?" if e is None else e for e in expected)
        raise ValueError(f"{type(layer).__name__} '{layer.name}' expects {what} of shape {shown}; "
                         f"got shape {got}")


def _bind_call_args(layer, args, kwargs):
    """Positional arguments after `inputs` (mask, training, ...) as keywords."""
    if not args:
        return kwargs
    names = list(inspect.signature(layer.call).parameters)[1:]
    if len(args) > len(names):
        raise TypeError(f"{type(layer).__name__}.call takes at most {len(names) + 1} positional "
                        f"arguments; got {len(args) + 1}")
    return {**dict(zip(names, args)), **kwargs}


def _arg(layer, name):
    """How a constructor's error names the argument: "Attention argument `dropout`"."""
    return f"{type(layer).__name__} argument `{name}`"


def _check_has_value_steps(name, labels_and_shapes):
    """A softmax over no value step has nothing to weigh: refuse Tv = 0 with the shapes."""
    if any(s[1] == 0 for label, s in labels_and_shapes if label in ("value", "values", "key")):
        got = ", ".join(f"{label} {s}" for label, s in labels_and_shapes)
        raise ValueError(f"{name} expects at least 1 value timestep (Tv >= 1) to attend to; got "
                         f"shapes {got}")


# -- Keras's Attention and AdditiveAttention -------------------------------------------------------

class Attention(Layer):
    """Dot-product attention (Keras's `Attention`, a.k.a. Luong-style).

    scores = query @ key^T (times the scalar `scale` with use_scale), or with score_mode="concat"
    scores = concat_score_weight * sum(tanh(scale * (query_i + key_j)), features).
    Where a value step is masked (or, with use_causal_mask, j > i) the score is lowered by 1e9
    (65504 in float16) before the softmax; weights = softmax(scores), dropped out while training
    with rate `dropout`; output = weights @ value, set to 0 at masked query steps.

    call(inputs=[query, value] or [query, value, key], mask=None or [query_mask, value_mask],
         training=None, return_attention_scores=False, use_causal_mask=False)
    query (B, Tq, dim), value (B, Tv, dim_v), key (B, Tv, dim) (value when absent);
    query_mask (B, Tq), value_mask (B, Tv). Output (B, Tq, dim_v), and with
    return_attention_scores the weights (B, Tq, Tv) too. The output's mask is the query mask.
    """
    supports_masking = True

    def __init__(self, use_scale: bool = False, score_mode: str = "dot", dropout: float = 0.0,
                 seed: Seed = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.score_mode = check_choice(score_mode, _arg(self, "score_mode"), ("dot", "concat"))
        self.use_scale = check_bool(use_scale, _arg(self, "use_scale"))
        self.dropout = check_fraction(dropout, _arg(self, "dropout"), max_inclusive=True)
        self.seed = None if seed is None else non_negative_int(seed, _arg(self, "seed"))
        # one generator per seeded layer: reproducible, yet new dropout on every call (as Keras)
        self._rng = generator(seed) if seed is not None else None
        self.scale = None
        self.concat_score_weight = None

    # -- validation (before build, so bad input changes nothing) ------------------------------
    def __call__(self, inputs: Sequence[Any], *args: Any, **kwargs: Any) -> Any:
        kwargs = _bind_call_args(self, args, kwargs)
        self._validate(inputs, kwargs.get("mask"))
        return super().__call__(inputs, **kwargs)

    def _validate(self, inputs, mask=None):
        name = f"{type(self).__name__} '{self.name}'"
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"{name} expects a list of inputs [query, value] or [query, value, "
                             f"key]; got a single {type(inputs).__name__} of shape "
                             f"{_shape(inputs)}")
        if len(inputs) not in (2, 3):
            raise ValueError(f"{name} expects a list of 2 or 3 inputs [query, value] or [query, "
                             f"value, key]; got {len(inputs)} inputs")
        shapes = [_shape(x) for x in inputs]
        labels = ("query", "value", "key")
        for label, shape in zip(labels, shapes):
            if len(shape) != 3:
                raise ValueError(f"{name} expects {label} of shape (batch, timesteps, features); "
                                 f"got shape {shape}")
        q, v = shapes[0], shapes[1]
        k = shapes[2] if len(shapes) == 3 else v
        got = ", ".join(f"{label} {s}" for label, s in zip(labels, shapes))
        _check_has_value_steps(name, list(zip(labels, shapes)))
        if not (_agree(q[0], v[0]) and _agree(q[0], k[0]) and _agree(v[0], k[0])):
            raise ValueError(f"{name} expects query, value and key with the same batch size; "
                             f"got shapes {got}")
        if not _agree(k[1], v[1]):
            raise ValueError(f"{name} expects key and value with the same number of timesteps "
                             f"(Tv); got shapes {got}")
        if not _agree(q[2], k[2]):
            raise ValueError(f"{name} expects query and key with the same feature size for "
                             f"score_mode '{self.score_mode}'; got query features {q[2]} and key "
                             f"features {k[2]} (shapes {got})")
        self._validate_built(name, q)
        if mask is None:
            return
        if not isinstance(mask, (list, tuple)) or len(mask) not in (2, 3):
            kind = (f"a list of {len(mask)}" if isinstance(mask, (list, tuple))
                    else f"a single mask of shape {_shape(mask)}")
            raise ValueError(f"{name} expects mask=[query_mask, value_mask] (a list of 2 or 3, "
                             f"None where there is none); got {kind}")
        _check_mask(self, "query_mask (batch, Tq)", mask[0], q[:2])
        _check_mask(self, "value_mask (batch, Tv)", mask[1], v[:2])

    def _validate_built(self, name, query_shape):
        pass

    # -- weights and math --------------------------------------------------------------------
    def build(self, input_shape: Sequence[Shape]) -> None:
        if self.use_scale:
            self.scale = self.add_weight((), "ones", name="scale")
        if self.score_mode == "concat":
            self.concat_score_weight = self.add_weight((), "ones", name="concat_score_weight")

    def _calculate_scores(self, query, key):
        """(B, Tq, dim), (B, Tv, dim) -> (B, Tq, Tv)."""
        if self.score_mode == "dot":
            scores = query @ key.transpose(0, 2, 1)
            return scores * self.scale if self.scale is not None else scores
        pairs = ops.expand_dims(query, -2) + ops.expand_dims(key, -3)  # (B, Tq, Tv, dim)
        if self.scale is not None:
            pairs = self.scale * pairs
        return self.concat_score_weight * ops.sum(ops.tanh(pairs), axis=-1)

    @staticmethod
    def _score_mask(scores_shape, value_mask, use_causal_mask):
        """(B, 1, Tv) or (B|1, Tq, Tv) booleans, True where a query step may attend; or None."""
        if use_causal_mask:
            causal = np.tril(np.ones(scores_shape[-2:], dtype=bool))[None]  # j <= i
            return causal if value_mask is None else value_mask[:, None, :] & causal
        return None if value_mask is None else value_mask[:, None, :]

    def call(self, inputs: Sequence[Tensor], mask: Sequence[ArrayLike | None] | None = None,
             training: bool | None = None, return_attention_scores: bool = False,
             use_causal_mask: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        self._validate(inputs, mask)  # masks filled in from the inputs are checked here
        query, value = inputs[0], inputs[1]
        key = inputs[2] if len(inputs) > 2 else value
        query_mask = _as_mask(mask[0]) if mask else None
        value_mask = _as_mask(mask[1]) if mask else None
        scores = self._calculate_scores(query, key)
        allowed = self._score_mask(scores.shape, value_mask, use_causal_mask)
        if allowed is not None:
            big = 65504.0 if scores.dtype == np.float16 else 1.0e9  # Keras's bias: float16's max
            scores = ops.where(~allowed, scores - big, scores)
        weights = ops.softmax(scores, axis=-1)
        if training and self.dropout > 0:
            keep = (self._rng or generator()).random(weights.shape) >= self.dropout
            scale = 0.0 if self.dropout == 1 else 1.0 / (1.0 - self.dropout)
            weights = weights * (keep * scale).astype(weights.dtype)
        output = weights @ value
        if query_mask is not None:
            output = ops.where(query_mask[..., None], output, 0.0)
        return (output, weights) if return_attention_scores else output

    def compute_mask(self, inputs: Sequence[Tensor],
                     mask: Sequence[ArrayLike | None] | None = None) -> np.ndarray | None:
        if not mask or mask[0] is None:
            return None
        return _as_mask(mask[0])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "use_scale": self.use_scale, "score_mode": self.score_mode,
                "dropout": self.dropout, "seed": self.seed}


class AdditiveAttention(Attention):
    """Additive attention (Keras's `AdditiveAttention`, a.k.a. Bahdanau-style).

    scores[b, i, j] = sum_d scale[d] * tanh(query[b, i, d] + key[b, j, d]), with the weight `scale`
    of shape (dim,) (glorot_uniform) when use_scale, else 1. Everything else is as `Attention`.
    """

    def __init__(self, use_scale: bool = True, dropout: float = 0.0, seed: Seed = None,
                 **kwargs: Any) -> None:
        super().__init__(use_scale=use_scale, dropout=dropout, seed=seed, **kwargs)

    def build(self, input_shape: Sequence[Shape]) -> None:
        if self.use_scale:
            dim = input_shape[0][-1]
            self.scale = self.add_weight((dim,), "glorot_uniform", name="scale")

    def _validate_built(self, name, query_shape):
        if self.scale is not None and not _agree(query_shape[2], self.scale.shape[0]):
            raise ValueError(f"{name} was built for query and key with {self.scale.shape[0]} "
                             f"features; got query of shape {query_shape}")

    def _calculate_scores(self, query, key):
        pairs = ops.tanh(ops.expand_dims(query, -2) + ops.expand_dims(key, -3))  # (B, Tq, Tv, dim)
        if self.scale is not None:
            pairs = self.scale * pairs
        return ops.sum(pairs, axis=-1)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["score_mode"]
        return config


# -- the papers' attention, for decoder steps ----------------------------------------------------

class _StepAttention(Layer):
    """Shared by LuongAttention and BahdanauAttention: input checks, masking, the context.

    call([query, values], mask=None): mask is the value mask (B, Tv), or the pair
    [query_mask, value_mask] (what layers upstream attach; the query mask has shape (B,) for a
    one-step query, (B, Tq) otherwise, and sets the context to 0 where False).
    Returns (context, weights): (B, dim_v), (B, Tv) for a one-step query (B, dim_q);
    (B, Tq, dim_v), (B, Tq, Tv) for (B, Tq, dim_q). Weights sum to 1 over unmasked value steps and
    are exactly 0 on masked ones; a query with every value step masked gets zero weights and a
    zero context.
    """
    supports_masking = True

    def __init__(self, kernel_initializer: InitializerLike = "glorot_uniform",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self._built_dims = None  # (dim_q, dim_v) once built

    def __call__(self, inputs: Sequence[Any], *args: Any, **kwargs: Any) -> Any:
        kwargs = _bind_call_args(self, args, kwargs)
        self._validate(inputs, kwargs.get("mask"))
        return super().__call__(inputs, **kwargs)

    def _split_mask(self, mask):
        """(query_mask, value_mask) from a value mask or a [query_mask, value_mask] pair."""
        if mask is None:
            return None, None
        if isinstance(mask, (list, tuple)) and all(_is_array_like(m) for m in mask):
            if len(mask) != 2:
                raise ValueError(f"{type(self).__name__} '{self.name}' expects mask to be the "
                                 f"value mask (batch, Tv) or the pair [query_mask, value_mask]; "
                                 f"got a list of {len(mask)}")
            return mask[0], mask[1]
        return None, mask

    def _validate(self, inputs, mask=None):
        name = f"{type(self).__name__} '{self.name}'"
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            got = (f"a list of {len(inputs)} inputs" if isinstance(inputs, (list, tuple))
                   else f"a single {type(inputs).__name__} of shape {_shape(inputs)}")
            raise ValueError(f"{name} expects a list of 2 inputs [query, values]; got {got}")
        q, v = _shape(inputs[0]), _shape(inputs[1])
        if len(q) not in (2, 3):
            raise ValueError(f"{name} expects query of shape (batch, dim_q) or (batch, Tq, dim_q); "
                             f"got shape {q}")
        if len(v) != 3:
            raise ValueError(f"{name} expects values of shape (batch, Tv, dim_v); got shape {v}")
        _check_has_value_steps(name, [("query", q), ("values", v)])
        if not _agree(q[0], v[0]):
            raise ValueError(f"{name} expects query and values with the same batch size; got "
                             f"query {q[0]} (shape {q}) and values {v[0]} (shape {v})")
        if self._built_dims is not None:
            dq, dv = self._built_dims
            if not (_agree(q[-1], dq) and _agree(v[-1], dv)):
                raise ValueError(f"{name} was built for query features {dq} and values features "
                                 f"{dv}; got query of shape {q} and values of shape {v}")
        self._validate_dims(name, q, v)
        query_mask, value_mask = self._split_mask(mask)
        _check_mask(self, "query mask (batch,)" if len(q) == 2 else "query mask (batch, Tq)",
                    query_mask, q[:-1])
        _check_mask(self, "value mask (batch, Tv)", value_mask, v[:2])

    def _validate_dims(self, name, query_shape, values_shape):
        pass

    def build(self, input_shape: Sequence[Shape]) -> None:
        self._built_dims = (input_shape[0][-1], input_shape[1][-1])
        self._build_weights(*self._built_dims)

    def call(self, inputs: Sequence[Tensor], mask: Any = None) -> tuple[Tensor, Tensor]:
        self._validate(inputs, mask)
        query, values = inputs
        query_mask, value_mask = (_as_mask(m) for m in self._split_mask(mask))
        one_step = query.ndim == 2
        q = ops.expand_dims(query, 1) if one_step else query  # (B, Tq, dim_q)
        scores = self._scores(q, values)  # (B, Tq, Tv)
        allowed = None if value_mask is None else value_mask[:, None, :]  # (B, 1, Tv)
        weights = masked_softmax(scores, mask=allowed)
        context = weights @ values  # (B, Tq, dim_v)
        if one_step:  # (B, 1, .) -> (B, .), sizes spelled out: an empty batch has no -1 to infer
            context = context.reshape(context.shape[0], context.shape[-1])
            weights = weights.reshape(weights.shape[0], weights.shape[-1])
        if query_mask is not None:
            context = ops.where(query_mask[..., None], context, 0.0)
        return context, weights

    def compute_mask(self, inputs: Sequence[Tensor], mask: Any = None) -> list | None:
        query_mask = _as_mask(self._split_mask(mask)[0])
        return None if query_mask is None else [query_mask, None]


class LuongAttention(_StepAttention):
    """Luong, Pham & Manning (2015), "Effective Approaches to Attention-based NMT", section 3.1.

    With h_t the query (decoder state) and h_s each value (encoder state):
      dot:     score = h_t . h_s                          (dim_q must equal dim_v; no weights)
      general: score = h_t W_a h_s                        W_a (dim_q, dim_v)
      concat:  score = v_a . tanh([h_t; h_s] W_a)         W_a (dim_q + dim_v, units), v_a (units,)
    Weights are kernels in Keras's (in, out) layout, i.e. the paper's matrices transposed.
    weights a_t = softmax over value steps; context c_t = sum_s a_t(s) h_s. See _StepAttention for
    the call and masks. `units` (concat only) defaults to dim_q, as in the paper.
    """

    def __init__(self, score: str = "dot", units: int | None = None,
                 kernel_initializer: InitializerLike = "glorot_uniform", **kwargs: Any) -> None:
        super().__init__(kernel_initializer=kernel_initializer, **kwargs)
        check_choice(score, _arg(self, "score"), ("dot", "general", "concat"))
        if units is not None:
            if score != "concat":
                raise ValueError(f"LuongAttention takes `units` only with score='concat' (dot "
                                 f"and general have no hidden layer); got units={units!r} with "
                                 f"score={score!r}")
            units = positive_int(units, _arg(self, "units"))
        self.score, self.units = score, units
        self.W_a = self.v_a = None

    def _validate_dims(self, name, query_shape, values_shape):
        if self.score == "dot" and not _agree(query_shape[-1], values_shape[-1]):
            raise ValueError(f"{name} with score='dot' expects query and values with the same "
                             f"feature size; got query features {query_shape[-1]} (shape "
                             f"{query_shape}) and values features {values_shape[-1]} (shape "
                             f"{values_shape}). Use score='general' or 'concat' for different "
                             f"sizes")

    def _build_weights(self, dim_q, dim_v):
        if self.score == "general":
            self.W_a = self.add_weight((dim_q, dim_v), self.kernel_initializer, name="W_a")
        elif self.score == "concat":
            units = self.units or dim_q
            self.W_a = self.add_weight((dim_q + dim_v, units), self.kernel_initializer, name="W_a")
            self.v_a = self.add_weight((units,), self.kernel_initializer, name="v_a")

    def _scores(self, query, values):
        keys = values.transpose(0, 2, 1)  # (B, dim_v, Tv)
        if self.score == "dot":
            return query @ keys
        if self.score == "general":
            return (query @ self.W_a) @ keys
        dim_q = query.shape[-1]
        # [h_t; h_s] W_a = h_t W_a[:dim_q] + h_s W_a[dim_q:], without forming every pair's concat
        q = ops.expand_dims(query @ self.W_a[:dim_q], 2)       # (B, Tq, 1, units)
        v = ops.expand_dims(values @ self.W_a[dim_q:], 1)      # (B, 1, Tv, units)
        return ops.tanh(q + v) @ self.v_a                       # (B, Tq, Tv)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "score": self.score, "units": self.units,
                "kernel_initializer": initializers.serialize(self.kernel_initializer)}


class BahdanauAttention(_StepAttention):
    """Bahdanau, Cho & Bengio (2015), "Neural MT by Jointly Learning to Align and Translate", A.1.2.

    With s the query (decoder state s_{i-1}) and h_j each value (annotation):
      e_ij = v_a . tanh(s W_a + h_j U_a)     W_a (dim_q, units), U_a (dim_v, units), v_a (units,)
    (kernels in Keras's (in, out) layout: the paper's matrices transposed). alpha_ij = softmax_j
    e_ij over unmasked steps; context c_i = sum_j alpha_ij h_j. See _StepAttention for the call.
    """

    def __init__(self, units: int, kernel_initializer: InitializerLike = "glorot_uniform",
                 **kwargs: Any) -> None:
        super().__init__(kernel_initializer=kernel_initializer, **kwargs)
        self.units = positive_int(units, _arg(self, "units"))
        self.W_a = self.U_a = self.v_a = None

    def _build_weights(self, dim_q, dim_v):
        self.W_a = self.add_weight((dim_q, self.units), self.kernel_initializer, name="W_a")
        self.U_a = self.add_weight((dim_v, self.units), self.kernel_initializer, name="U_a")
        self.v_a = self.add_weight((self.units,), self.kernel_initializer, name="v_a")

    def _scores(self, query, values):
        q = ops.expand_dims(query @ self.W_a, 2)   # (B, Tq, 1, units)
        h = ops.expand_dims(values @ self.U_a, 1)  # (B, 1, Tv, units)
        return ops.tanh(q + h) @ self.v_a           # (B, Tq, Tv)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units,
                "kernel_initializer": initializers.serialize(self.kernel_initializer)}
