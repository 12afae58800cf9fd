"""SimpleRNN, LSTM and GRU: the layers, and the unrolled cells built from primitive ops.

Two paths compute the same function:

* fused (``unroll=False``): the whole sequence is one graph node (layers/fused.py). Its forward
  hoists the input projection ``X @ W_x + b`` out of the loop and runs the cell per timestep; its
  VJP is the BPTT loop ``t = T-1 ... 0`` over the cell's hand-derived backward step, and forms
  ``dW_x`` and ``dW_h`` each with one matmul over all timesteps. ``bptt="fast"`` (the default)
  runs the cell's segment kernel (layers/kernels/), ``bptt="reference"`` the plain loop over the
  cell's step_forward / step_backward (layers/bptt.py): the same numbers, one written for speed,
  the other for reading.
* unrolled (``unroll=True``): the same cell built from primitive ops, one set of graph nodes per
  timestep; the autodiff engine derives BPTT by itself.

After a backward pass, `bptt_gradients` holds dL/dh_t for every processed timestep,
shape (timesteps, batch, units), whichever path ran.
"""
import numpy as np

from .. import activations, initializers, ops
from ..checks import check_bool, check_choice, check_fraction, non_negative_int, positive_int
from ..random import generator
from ..tensor import Tensor
from . import cells
from .base import InputSpec, Layer, _Shaped, flatten, is_tracing
from .fused import BPTT_MODES, fused_rnn

__all__ = ["SimpleRNN", "LSTM", "GRU", "RNN", "Bidirectional"]


# -- the unrolled path: the same cells from primitive ops ------------------------------------------

def _simple_rnn_step(zx, states, w_h, b_h, rec_mask, act, ract, reset_after):
    h_prev = states[0] if rec_mask is None else states[0] * rec_mask
    return (act(ops.addmm(zx, h_prev, w_h)),)


def _lstm_step(zx, states, w_h, b_h, rec_mask, act, ract, reset_after):
    h_prev, c_prev = states
    if rec_mask is not None:
        h_prev = h_prev * rec_mask
    z = ops.addmm(zx, h_prev, w_h)
    if ract in activations.BLOCKWISE:              # one call for the gates i, f, o
        i, f, _, o = ops.split(ract(z), 4, axis=1)  # (and the unused c block)
        H = c_prev.shape[-1]
        g = act(z[:, 2 * H:3 * H])
    else:
        i, f, g, o = ops.split(z, 4, axis=1)
        i, f, g, o = ract(i), ract(f), act(g), ract(o)
    c = f * c_prev + i * g
    return (o * act(c), c)


def _gru_step(zx, states, w_h, b_h, rec_mask, act, ract, reset_after):
    h_prev = states[0]
    h_rec = h_prev if rec_mask is None else h_prev * rec_mask
    H = h_prev.shape[-1]
    x_zr, x_h = zx                                 # GRU._per_step's pair
    if reset_after:
        h_zr, h_h = ops.split(ops.addmm(b_h, h_rec, w_h), [2 * H], axis=1)
        zr = x_zr + h_zr
    else:
        zr = ops.addmm(x_zr, h_rec, w_h[:, :2 * H])
    if ract in activations.BLOCKWISE:              # one call for both gates
        z, r = ops.split(ract(zr), 2, axis=1)
    else:
        z, r = ops.split(zr, 2, axis=1)
        z, r = ract(z), ract(r)
    hh = act(x_h + r * h_h) if reset_after else act(x_h + (r * h_rec) @ w_h[:, 2 * H:])
    return (hh + z * (h_prev - hh),)               # = z h_prev + (1 - z) hh, as the fused cell


# -- the layers ----------------------------------------------------------------------------------

def _check_not_empty(layer, batch, timesteps, shape, call="",
                     expected="(batch, timesteps, features)"):
    """Refuse a batch of no samples or a sequence of no timesteps, before anything is built:
    the time loop has nothing to run and no last output to return (the fused path would fail
    reshaping, the unrolled one indexing)."""
    what = f"{type(layer).__name__} '{layer.name}'{call}"
    if batch == 0:
        raise ValueError(f"{what} got an empty batch (0 samples): expects input of shape "
                         f"{expected} with at least 1 sample; got shape {tuple(shape)}")
    if timesteps == 0:
        raise ValueError(f"{what} got 0 timesteps: expects input of shape {expected} with at "
                         f"least 1 timestep; got shape {tuple(shape)}")


def _check_sequence(layer, inputs):
    shape = tuple(flatten(inputs)[0].shape)
    if len(shape) == 3:  # other ranks are the input spec's to refuse
        _check_not_empty(layer, shape[0], shape[1], shape)


class RNN(Layer):
    """Shared machinery of SimpleRNN, LSTM and GRU: weights, states, masks, dropout, both paths.

    Besides Keras's arguments:
    recompute: False, True or a segment length s. When on, the fused path keeps only the states
        every s steps (s = ceil(sqrt(T)) for True) and recomputes each segment's caches during
        backward: activation memory ~ sqrt(T) steps instead of T, for about one more forward pass.
        Gradients are those of the plain path.
    truncate_bptt: None or k. Truncated BPTT: the gradient does not cross from processing step t to
        step t-1 where t is a multiple of k, so it travels at most k steps back within each chunk.
    bptt: "fast" (the default) or "reference": which code the fused path (unroll=False) runs, the
        cell's segment kernel or the plain loop over its step_forward / step_backward
        (layers/bptt.py), written to be read. Both give the same numbers; "reference" is slower.
    """
    gates = 1
    n_states = 1
    supports_masking = True

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, zero_output_for_mask=False, recompute=False,
                 truncate_bptt=None, bptt="fast", **kwargs):
        check_choice(bptt, "bptt", BPTT_MODES)
        super().__init__(**kwargs)
        arg = f"{type(self).__name__} argument `{{}}`".format
        self.units = positive_int(units, arg("units"))  # Keras: units > 0
        flags = {"use_bias": use_bias, "return_sequences": return_sequences,
                 "return_state": return_state, "go_backwards": go_backwards, "stateful": stateful,
                 "unroll": unroll, "zero_output_for_mask": zero_output_for_mask}
        flags = {name: check_bool(value, arg(name)) for name, value in flags.items()}
        # Keras clips dropout into [0, 1] silently; a rate outside [0, 1) is refused here (a
        # rate of 1 would drop everything and scale by 1 / 0)
        dropout = check_fraction(dropout, arg("dropout"))
        recurrent_dropout = check_fraction(recurrent_dropout, arg("recurrent_dropout"))
        seed = None if seed is None else non_negative_int(seed, arg("seed"))
        if not isinstance(recompute, (bool, np.bool_)):
            recompute = positive_int(recompute, arg("recompute") + " (a bool, or a segment length)")
        if truncate_bptt is not None:
            truncate_bptt = positive_int(truncate_bptt, arg("truncate_bptt"))
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self._activation_names = (activation, recurrent_activation)
        self.use_bias = flags["use_bias"]
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.return_sequences, self.return_state = flags["return_sequences"], flags["return_state"]
        self.go_backwards, self.stateful = flags["go_backwards"], flags["stateful"]
        self.unroll = flags["unroll"]
        self.dropout, self.recurrent_dropout, self.seed = dropout, recurrent_dropout, seed
        # one generator per seeded layer: reproducible, yet new masks on every call (as Keras's
        # SeedGenerator); unseeded layers draw from the shared generator at call time
        self._rng = generator(seed) if seed is not None else None
        self.zero_output_for_mask = flags["zero_output_for_mask"]
        self.recompute = bool(recompute) if isinstance(recompute, (bool, np.bool_)) else recompute
        self.truncate_bptt = truncate_bptt
        self.bptt = bptt
        self.states = None
        self._bptt = None
        self._bptt_call = None
        self._unrolled_states = None
        self.input_spec = InputSpec(ndim=3, description="(batch, timesteps, features)")

    def _check_inputs(self, inputs):
        super()._check_inputs(inputs)
        _check_sequence(self, inputs)

    # subclasses say which cell math and which op-level step they use
    def _cell_math(self):
        raise NotImplementedError

    _step = staticmethod(_simple_rnn_step)
    reset_after = False

    def _bias_shape(self):
        return (self.gates * self.units,)

    def _bias_initializer(self):
        return self.bias_initializer

    def build(self, input_shape):
        features = input_shape[-1]
        kH = self.gates * self.units
        self.kernel = self.add_weight((features, kH), self.kernel_initializer, name="kernel")
        self.recurrent_kernel = self.add_weight((self.units, kH), self.recurrent_initializer,
                                                name="recurrent_kernel")
        self.bias = self.add_weight(self._bias_shape(), self._bias_initializer(), name="bias") \
            if self.use_bias else None
        self.input_spec = InputSpec(ndim=3, axes={-1: features},
                                    description=f"(batch, timesteps, {features})")

    def _fused_available(self):
        return all(isinstance(n, str) or n is None for n in self._activation_names)

    def reset_states(self, states=None):
        """Zero the carried states of a stateful layer (or set them to `states`)."""
        if states is None:
            self.states = None
            return
        states = states if isinstance(states, (list, tuple)) else [states]
        self.states = [np.array(s, dtype=self.dtype) for s in states]

    reset_state = reset_states

    def _initial_states(self, inputs, initial_state):
        B = inputs.shape[0]
        expected = [(B, self.units)] * self.n_states
        if initial_state is not None:
            states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
            shapes = [tuple(np.shape(s.data if isinstance(s, Tensor) else s)) for s in states]
            if shapes != expected:
                raise ValueError(f"{type(self).__name__} '{self.name}' expects initial_state as "
                                 f"{self.n_states} array(s) of shape (batch, units) = {expected}; "
                                 f"got shapes {shapes}")
            return [self._convert(s) for s in states]
        if self.stateful and self.states is not None:
            shapes = [s.shape for s in self.states]
            if shapes != expected:
                raise ValueError(f"stateful {type(self).__name__} '{self.name}' carries states of "
                                 f"shapes {shapes}; got a batch of {B} (expected shapes {expected}). "
                                 f"Call reset_states() to start over with another batch size")
            return [Tensor(s) for s in self.states]
        return [Tensor(np.zeros((B, self.units), dtype=self.dtype)) for _ in range(self.n_states)]

    def _dropout_masks(self, inputs, training):
        if not training:
            return None, None
        rng = self._rng or generator()
        B, _, D = inputs.shape

        def mask(rate, shape):
            if rate == 0.0:
                return None
            keep = rng.random(shape) >= rate
            return (keep / (1.0 - rate)).astype(self.dtype)
        return mask(self.dropout, (B, D)), mask(self.recurrent_dropout, (B, self.units))

    def call(self, inputs, initial_state=None, mask=None, training=None):
        B, T = inputs.shape[0], inputs.shape[1]
        states0 = self._initial_states(inputs, initial_state)
        if mask is not None:
            mask = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
            if mask.shape != (B, T):
                raise ValueError(f"{type(self).__name__} '{self.name}' expects a mask of shape "
                                 f"(batch, timesteps) = {(B, T)}; got {mask.shape}")
            mask = mask.astype(bool)
        input_mask, rec_mask = self._dropout_masks(inputs, training)
        bias = self.bias if self.bias is not None else np.zeros(self._bias_shape(), self.dtype)
        self._bptt, self._unrolled_states, self._bptt_call = None, None, None
        if self.unroll or not self._fused_available():
            output, states = self._run_unrolled(inputs, states0, bias, mask, input_mask, rec_mask)
        else:
            outs = fused_rnn(inputs, self.kernel, self.recurrent_kernel, bias, *states0,
                             cell=self._cell_math(), time_mask=mask, input_mask=input_mask,
                             rec_mask=rec_mask, go_backwards=self.go_backwards,
                             zero_output_for_mask=self.zero_output_for_mask,
                             truncate=self.truncate_bptt, checkpoint=self._checkpoint(T),
                             last_only=not self.return_sequences, on_bptt=self._bptt_recorder(),
                             input_grad=isinstance(inputs, Tensor) and inputs.requires_grad,
                             bptt=self.bptt)
            output, states = outs[0], list(outs[1:])
        if self.stateful and not is_tracing():
            self.states = [s.data.copy() for s in states]
        return [output] + states if self.return_state else output

    def _checkpoint(self, timesteps):
        """Segment length between stored states when recomputing: about sqrt(T), or as given."""
        if self.recompute is False:
            return None
        if self.recompute is True:
            return max(1, int(np.ceil(np.sqrt(timesteps))))
        return int(self.recompute)

    def compute_mask(self, inputs, mask=None):
        out_mask = mask if self.return_sequences else None
        return [out_mask] + [None] * self.n_states if self.return_state else out_mask

    def step(self, inputs, states):
        """Advance one timestep with explicit states, for decoding a token at a time.

        inputs: (batch, features) this step's input; states: a list of n_states (batch, units)
        arrays or Tensors. Returns (output, new_states): output (batch, units) and the list of new
        states, the same numbers the whole-sequence call computes at that step (inference:
        no dropout, no mask). Differentiable, like any composition of ops.
        """
        inputs = self._convert(inputs)
        if inputs.ndim != 2:
            raise ValueError(f"{type(self).__name__} '{self.name}'.step expects input of shape "
                             f"(batch, features); got {inputs.shape}")
        _check_not_empty(self, inputs.shape[0], None, inputs.shape, call=".step",
                         expected="(batch, features)")
        self._maybe_build(_Shaped((inputs.shape[0], 1, inputs.shape[1])))
        self.input_spec.check(self, (inputs.shape[0], 1, inputs.shape[1]))
        states = self._initial_states(_Shaped(inputs.shape), list(states))
        bias = self.bias if self.bias is not None else np.zeros(self._bias_shape(), self.dtype)
        b_x, b_h = (bias[0], bias[1]) if self.reset_after else (bias, None)
        zx = self._per_step(ops.expand_dims(inputs @ self.kernel + b_x, 1))[0]
        new = self._step(zx, states, self.recurrent_kernel, b_h, None,
                         self.activation, self.recurrent_activation, self.reset_after)
        return new[0], list(new)

    def _per_step(self, zx):
        """What _step takes for each step of the input projections zx (B, T, kH): T tensors
        (B, kH), one node."""
        return ops.unstack(zx, axis=1)

    def _bptt_recorder(self):
        """The fused node's BPTT callback for this call. Several backward passes through one call
        add up (as .grad does); a layer called again records only its latest call."""
        self._bptt_call = call = object()

        def record(seen):
            if self._bptt_call is call:
                self._bptt = seen if self._bptt is None else self._bptt + seen
        return record

    @property
    def bptt_gradients(self):
        """dL/dh_t reaching each processed timestep's hidden state, (timesteps, batch, units),
        after a backward pass through the last call (None before)."""
        if self._unrolled_states is not None:  # read afresh: later backward passes accumulate
            hs = self._unrolled_states
            if any(h.grad is not None for h in hs):
                return np.stack([np.zeros(h.shape, h.dtype) if h.grad is None else h.grad
                                 for h in hs])
        return self._bptt

    @property
    def bptt_gradient_norms(self):
        """L2 norm of dL/dh_t per timestep, (timesteps,), averaged over the batch."""
        grads = self.bptt_gradients
        return None if grads is None else np.sqrt((grads ** 2).sum(axis=-1)).mean(axis=-1)

    def _run_unrolled(self, inputs, states0, bias, mask, input_mask, rec_mask):
        """The cell from primitive ops, one set of nodes per step. Returns (output, final states):
        output (B, T, H) with return_sequences, else the last output (B, H)."""
        x = inputs if input_mask is None else inputs * input_mask[:, None, :]
        if self.reset_after:
            b_x, b_h = bias[0], bias[1]
        else:
            b_x, b_h = bias, None
        zx = self._per_step(x @ self.kernel + b_x)                 # T steps' inputs
        T = inputs.shape[1]
        order = range(T - 1, -1, -1) if self.go_backwards else range(T)
        states, out_prev, outputs, raw_hs = list(states0), None, [], []
        for i, t in enumerate(order):
            if self.truncate_bptt and i and i % self.truncate_bptt == 0:  # a chunk boundary
                states = [s.detach() for s in states]
                out_prev = None if out_prev is None else out_prev.detach()
            new = self._step(zx[t], states, self.recurrent_kernel, b_h, rec_mask,
                             self.activation, self.recurrent_activation, self.reset_after)
            if new[0].requires_grad:
                new[0].retain_grad()
            raw_hs.append(new[0])
            if mask is not None:
                m = mask[:, t:t + 1]
                new = [ops.where(m, n, s) for n, s in zip(new, states)]
                zeros = np.zeros(new[0].shape, self.dtype)
                out_prev = ops.where(m, new[0], zeros if out_prev is None or
                                     self.zero_output_for_mask else out_prev)
                outputs.append(out_prev)
            else:
                outputs.append(new[0])
            states = list(new)
        self._unrolled_states = raw_hs
        if not self.return_sequences:  # the last output alone: no (batch, T, units) node to undo
            return outputs[-1], states
        return ops.stack(outputs, axis=1), states

    def get_config(self):
        config = super().get_config()
        act, ract = self._activation_names
        config.update({
            "units": self.units, "activation": act, "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "return_sequences": self.return_sequences, "return_state": self.return_state,
            "go_backwards": self.go_backwards, "stateful": self.stateful, "unroll": self.unroll,
            "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout, "seed": self.seed,
            "zero_output_for_mask": self.zero_output_for_mask,
            "recompute": self.recompute, "truncate_bptt": self.truncate_bptt, "bptt": self.bptt,
        })
        if self.gates > 1:
            config["recurrent_activation"] = ract
        return config


class SimpleRNN(RNN):
    """Fully connected RNN: h_t = activation(x_t W_x + b + h_{t-1} W_h)."""

    def __init__(self, units, activation="tanh", **kwargs):
        if "recurrent_activation" in kwargs:
            raise TypeError("SimpleRNN has no recurrent_activation argument")
        super().__init__(units, activation=activation, **kwargs)

    def _cell_math(self):
        return cells.SimpleRNNCellMath(self._activation_names[0])


class LSTM(RNN):
    """Long short-term memory; gates i, f, c, o as in Keras."""
    gates, n_states = 4, 2
    _step = staticmethod(_lstm_step)

    def __init__(self, units, unit_forget_bias=True, **kwargs):
        super().__init__(units, **kwargs)
        self.unit_forget_bias = check_bool(unit_forget_bias, "LSTM argument `unit_forget_bias`")

    def _cell_math(self):
        return cells.LSTMCellMath(*self._activation_names)

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        H, init = self.units, self.bias_initializer

        def forget_ones(shape, dtype=None):
            return np.concatenate([init((H,), dtype), np.ones(H, dtype), init((2 * H,), dtype)])
        return forget_ones

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


class GRU(RNN):
    """Gated recurrent unit; gates z, r, h as in Keras (reset_after=True by default)."""
    gates = 3
    _step = staticmethod(_gru_step)

    def __init__(self, units, reset_after=True, **kwargs):
        super().__init__(units, **kwargs)
        self.reset_after = check_bool(reset_after, "GRU argument `reset_after`")

    def _cell_math(self):
        return cells.GRUCellMath(*self._activation_names, reset_after=self.reset_after)

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _per_step(self, zx):
        """T pairs (x_zr (B, 2H), x_h (B, H)): the candidate's part split off once for all steps,
        not once a step."""
        parts = ops.split(zx, [2 * self.units], axis=2)
        return list(zip(*(ops.unstack(part, axis=1) for part in parts)))

    def get_config(self):
        return {**super().get_config(), "reset_after": self.reset_after}


class Bidirectional(Layer):
    """Runs `layer` forwards and a copy of it backwards in time, and merges the two outputs.

    merge_mode: "concat", "sum", "mul", "ave", or None (returns [forward, backward]).
    Weights: the forward layer's, then the backward layer's, as in Keras.
    """
    supports_masking = True
    _MERGES = {"concat": lambda a, b: ops.concat([a, b], axis=-1), "sum": ops.add,
               "mul": ops.mul, "ave": lambda a, b: (a + b) * 0.5, None: None}

    def __init__(self, layer, merge_mode="concat", backward_layer=None, **kwargs):
        if not isinstance(layer, RNN):
            raise TypeError(f"Bidirectional argument `layer` must be a recurrent layer (SimpleRNN, "
                            f"LSTM, GRU); got {layer!r} of type {type(layer).__name__}")
        if backward_layer is not None and not isinstance(backward_layer, RNN):
            raise TypeError(f"Bidirectional argument `backward_layer` must be None or a recurrent "
                            f"layer (SimpleRNN, LSTM, GRU); got {backward_layer!r} of type "
                            f"{type(backward_layer).__name__}")
        if merge_mode is not None:  # Keras's choices: "sum", "mul", "ave", "concat" or None
            check_choice(merge_mode, "Bidirectional argument `merge_mode` (or None)",
                         [m for m in self._MERGES if m is not None])
        super().__init__(**kwargs)
        if backward_layer is None:
            config = layer.get_config()
            config.update(name="backward_" + layer.name, go_backwards=not layer.go_backwards)
            backward_layer = type(layer).from_config(config)
        # Keras zeroes the outputs of masked steps in both directions when returning sequences
        layer.zero_output_for_mask = backward_layer.zero_output_for_mask = layer.return_sequences
        self.forward_layer, self.backward_layer = layer, backward_layer
        self.merge_mode = merge_mode
        self.return_sequences, self.return_state = layer.return_sequences, layer.return_state
        self.input_spec = layer.input_spec

    def _check_inputs(self, inputs):
        super()._check_inputs(inputs)
        _check_sequence(self, inputs)

    def build(self, input_shape):
        self.forward_layer._maybe_build(_Shaped(input_shape))
        self.backward_layer._maybe_build(_Shaped(input_shape))

    def call(self, inputs, initial_state=None, mask=None, training=None):
        fw_state = bw_state = None
        if initial_state is not None:
            half = len(initial_state) // 2
            fw_state, bw_state = initial_state[:half], initial_state[half:]
        fw = self.forward_layer(inputs, initial_state=fw_state, mask=mask, training=training)
        bw = self.backward_layer(inputs, initial_state=bw_state, mask=mask, training=training)
        fw_states = bw_states = []
        if self.return_state:
            fw, fw_states = fw[0], fw[1:]
            bw, bw_states = bw[0], bw[1:]
        if self.return_sequences:
            bw = bw[:, ::-1]  # back into input order
        merge = self._MERGES[self.merge_mode]
        output = [fw, bw] if merge is None else merge(fw, bw)
        if self.return_state:
            return (output if merge is None else [output]) + list(fw_states) + list(bw_states)
        return output

    def compute_mask(self, inputs, mask=None):
        out_mask = mask if self.return_sequences else None
        outputs = [out_mask, out_mask] if self.merge_mode is None else [out_mask]
        if self.return_state:
            return outputs + [None] * (2 * self.forward_layer.n_states)
        return outputs if self.merge_mode is None else out_mask

    def reset_states(self):
        self.forward_layer.reset_states()
        self.backward_layer.reset_states()

    def get_config(self):
        from ..saving import serialization  # late: saving sits above layers
        return {**super().get_config(), "merge_mode": self.merge_mode,
                "layer": serialization.serialize_layer(self.forward_layer)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from ..saving import registry, serialization  # late: saving sits above layers
        config = dict(config)
        with registry.loading_scope(custom_objects):
            if config.get("backward_layer") is not None:  # Keras's configs name it
                config["backward_layer"] = serialization.deserialize_layer(config["backward_layer"])
            return cls(serialization.deserialize_layer(config.pop("layer")), **config)

