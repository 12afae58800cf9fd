"""Your own recurrent cell with your own backward step: a peephole LSTM.

The cell is a Keras-style layer (state_size, build, call from ops), so RNN(cell) runs it as it is,
the engine differentiating `call` one step at a time. It also writes its step's BPTT by hand
(step_forward / step_backward, in NumPy), the protocol of minirnn's own cells (layers/cells.py):
RNN then runs those in the plain BPTT loop of layers/bptt.py, with no graph recorded per op, which
trains several times faster. minirnn.check_cell holds the hand-written backward to the engine's
autodiff of `call` and to finite differences before we train with it.

Peephole LSTM (Gers and Schmidhuber, 2000): the gates also see the cell state,
    i = sigmoid(z_i + p_i * c_prev)    f = sigmoid(z_f + p_f * c_prev)    g = tanh(z_g)
    c = f * c_prev + i * g             o = sigmoid(z_o + p_o * c)          h = o * tanh(c)
where z = x W_x + b + h_prev W_h holds the blocks i, f, g, o (Keras's LSTM layout).

Run: python examples/custom_cell.py
"""
import time
from collections import namedtuple

import numpy as np

import minirnn
from minirnn import layers, ops
from minirnn.numeric import dot

PeepholeCache = namedtuple("PeepholeCache", "i f g o c_prev c tanh_c rec_in mask")


class PeepholeLSTMCell(layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = [units, units]          # h, c
        self.output_size = units

    def build(self, input_shape):
        H = self.units
        self.kernel = self.add_weight((input_shape[-1], 4 * H), "glorot_uniform", name="kernel")
        self.recurrent_kernel = self.add_weight((H, 4 * H), "orthogonal", name="recurrent_kernel")
        self.bias = self.add_weight((4 * H,), "zeros", name="bias")
        self.peephole = self.add_weight((3, H), "glorot_uniform", name="peephole")  # p_i, p_f, p_o
        self.step_weights = [self.peephole]       # read by step_forward, graded by step_backward

    # -- the cell in ops: what RNN runs when differentiating op by op -----------------------------
    def call(self, inputs, states):
        h_prev, c_prev = states
        z = inputs @ self.kernel + self.bias + h_prev @ self.recurrent_kernel
        z_i, z_f, z_g, z_o = ops.split(z, 4, axis=1)
        p = self.peephole
        i = ops.sigmoid(z_i + p[0] * c_prev)
        f = ops.sigmoid(z_f + p[1] * c_prev)
        c = f * c_prev + i * ops.tanh(z_g)
        o = ops.sigmoid(z_o + p[2] * c)
        h = o * ops.tanh(c)
        return h, [h, c]

    # -- the same step by hand: forward, and its backward -----------------------------------------
    # Each NumPy call on a step's small arrays costs about a microsecond whatever its size, so
    # the step is written in few calls: the gates i, f share one sigmoid, computed by tanh
    # (sigmoid(x) = (1 + tanh(x / 2)) / 2, stable for every x), and the backward step reads the
    # gates' derivatives the forward step cached.
    def step_forward(self, zx, states, W_h, b_h=None, rec_mask=None):
        """zx (B, 4H) = x_t W_x + b; states (h_prev, c_prev). Returns ((h, c), cache)."""
        h_prev, c_prev = states
        H = self.units
        p = self.peephole.data
        rec_in = h_prev if rec_mask is None else h_prev * rec_mask
        z = dot(rec_in, W_h)                           # (B, 4H), blocks i f g o
        z += zx
        z[:, :2 * H] += (c_prev[:, None, :] * p[:2]).reshape(-1, 2 * H)   # peepholes of i, f
        i_f = sigmoid_by_tanh(z[:, :2 * H])            # the gates i, f in one call
        i, f = i_f[:, :H], i_f[:, H:]
        g = np.tanh(z[:, 2 * H:3 * H])
        c = f * c_prev
        c += i * g
        z_o = z[:, 3 * H:]
        z_o += p[2] * c                                # the output gate sees the new c
        o = sigmoid_by_tanh(z_o)
        tanh_c = np.tanh(c)
        h = o * tanh_c
        return (h, c), PeepholeCache(i, f, g, o, c_prev, c, tanh_c, rec_in, rec_mask)

    def step_backward(self, dstates, cache, W_h):
        """dstates (dh, dc) at this step's new states. Returns (dz, dz, (dh_prev, dc_prev),
        (dpeephole,)): dz (B, 4H) is both the input projection's and the recurrent product's."""
        dh, dc = dstates
        i, f, g, o, c_prev, c, tanh_c = cache[:7]
        H = self.units
        p = self.peephole.data
        dz = np.empty((dh.shape[0], 4 * H), dh.dtype)
        dz_i, dz_f, dz_g, dz_o = dz[:, :H], dz[:, H:2 * H], dz[:, 2 * H:3 * H], dz[:, 3 * H:]
        np.multiply(dh, tanh_c, out=dz_o)
        dz_o *= o * (1.0 - o)                          # through o's sigmoid
        dc = dc + dh * o * (1.0 - tanh_c * tanh_c) + dz_o * p[2]   # c reaches h, c_t+1 and o
        np.multiply(dc, g, out=dz_i)
        np.multiply(dc, c_prev, out=dz_f)
        np.multiply(dc, i, out=dz_g)
        local = np.concatenate([i, f], axis=1)
        local *= 1.0 - local                           # sigmoid' of i, f from their outputs
        dz[:, :2 * H] *= local
        dz_g *= 1.0 - g * g
        dh_prev = dot(dz, W_h.T)
        if cache.mask is not None:
            dh_prev *= cache.mask
        dc_prev = dc * f
        dc_prev += dz_i * p[0]
        dc_prev += dz_f * p[1]
        d_if = (dz[:, :2 * H].reshape(-1, 2, H) * c_prev[:, None, :]).sum(axis=0)   # p_i, p_f
        dpeephole = np.concatenate([d_if, (dz_o * c).sum(axis=0, keepdims=True)])   # and p_o
        return dz, dz, (dh_prev, dc_prev), (dpeephole,)


def sigmoid_by_tanh(x, out=None):
    """1 / (1 + exp(-x)) as (1 + tanh(x / 2)) / 2: no overflow for any x, three NumPy calls."""
    y = np.multiply(x, 0.5, out=out)
    np.tanh(y, out=y)
    y *= 0.5
    y += 0.5
    return y


class OpsOnlyPeepholeLSTMCell(PeepholeLSTMCell):
    """The same cell without its hand-written steps: RNN differentiates `call` op by op."""
    step_forward = step_backward = None


def train(cell_class, x, y, epochs, seed=0):
    minirnn.set_random_seed(seed)
    model = minirnn.Sequential([minirnn.Input(x.shape[1:]), layers.RNN(cell_class(16)),
                                layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    start = time.perf_counter()
    history = model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    return history.history["loss"], time.perf_counter() - start


def main(epochs=8):
    # 1. the hand-written backward, checked in float64 against autodiff and finite differences
    errors = minirnn.check_cell(PeepholeLSTMCell(5), input_shape=(3, 4))
    print("check_cell: largest relative errors", {k: f"{v:.1e}" for k, v in errors.items()})

    # 2. a small task: the running sum of a noisy sequence's sign changes, then its last value
    rng = np.random.default_rng(0)
    x = rng.standard_normal((512, 20, 2)).astype("float32")
    y = (np.sign(x[:, 1:, 0]) != np.sign(x[:, :-1, 0])).sum(axis=1, keepdims=True) / 10.0
    y = y.astype("float32")
    losses, seconds = train(PeepholeLSTMCell, x, y, epochs=epochs)
    ops_losses, ops_seconds = train(OpsOnlyPeepholeLSTMCell, x, y, epochs=epochs)
    print(f"hand-written BPTT: loss {losses[0]:.4f} -> {losses[-1]:.4f} in {seconds:.1f} s")
    print(f"op-by-op autodiff: loss {ops_losses[0]:.4f} -> {ops_losses[-1]:.4f} in "
          f"{ops_seconds:.1f} s ({ops_seconds / seconds:.1f}x the time)")
    assert losses[-1] < 0.5 * losses[0], "the peephole LSTM should learn the task"
    assert np.allclose(losses, ops_losses, rtol=1e-3), "both paths train the same model"
    return errors, losses, ops_losses


if __name__ == "__main__":
    main()
