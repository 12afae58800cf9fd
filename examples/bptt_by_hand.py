"""Backpropagation through time, written out by hand, beside minirnn's gradients.

A scalar RNN with ONE input weight w and ONE recurrent weight u, shared by every step:

    h_t = tanh(w * x_t + u * h_{t-1}),   h_0 = 0,   loss = 0.5 * (h_T - y)^2

    python examples/bptt_by_hand.py
"""
import numpy as np

import minirnn
from minirnn import ops
from minirnn.layers import SimpleRNN


def forward(x, w, u):
    """All hidden states h_0 .. h_T of the scalar RNN (h_0 = 0)."""
    h = [0.0]
    for x_t in x:
        h.append(np.tanh(w * x_t + u * h[-1]))
    return h


def bptt(x, y, w, u):
    """dL/dw and dL/du by walking back from t = T to 1.

    At step t the gradient reaching h_t is dh; through the tanh it becomes
    dz = dh * (1 - h_t^2); the shared weights collect dz * x_t and dz * h_{t-1};
    the rest flows on to h_{t-1} as dz * u.
    """
    h = forward(x, w, u)
    dw = du = 0.0
    dh = h[-1] - y                       # dL/dh_T
    per_step = []
    for t in range(len(x), 0, -1):
        per_step.append(dh)
        dz = dh * (1.0 - h[t] ** 2)
        dw += dz * x[t - 1]
        du += dz * h[t - 1]
        dh = dz * u
    return 0.5 * (h[-1] - y) ** 2, dw, du, per_step[::-1]


def minirnn_graph(x, y, w, u):
    """The same net as a Python loop over minirnn ops: the engine derives BPTT."""
    w_t, u_t = minirnn.tensor(w, requires_grad=True), minirnn.tensor(u, requires_grad=True)
    h = minirnn.tensor(0.0)
    for x_t in x:
        h = ops.tanh(w_t * x_t + u_t * h)
    loss = 0.5 * (h - y) ** 2
    loss.backward()
    return loss.item(), w_t.grad.item(), u_t.grad.item()


def minirnn_layer(x, y, w, u):
    """The same net as a SimpleRNN(1) layer: the fused op's hand-written BPTT loop."""
    layer = SimpleRNN(1, use_bias=False)
    layer.build((1, len(x), 1))
    layer.set_weights([np.array([[w]]), np.array([[u]])])
    h = layer(np.asarray(x, dtype="float64").reshape(1, -1, 1))
    loss = 0.5 * (h - y) ** 2
    loss.sum().backward()
    return loss.item(), layer.kernel.grad.item(), layer.recurrent_kernel.grad.item(), \
        layer.bptt_gradients[:, 0, 0]


def main():
    minirnn.set_floatx("float64")
    rng = np.random.default_rng(0)
    x, y, w, u = rng.uniform(-1, 1, 12), 0.5, 0.8, 0.9
    loss, dw, du, per_step = bptt(x, y, w, u)
    results = {"by hand": (loss, dw, du), "minirnn ops loop": minirnn_graph(x, y, w, u)}
    layer_loss, layer_dw, layer_du, layer_steps = minirnn_layer(x, y, w, u)
    results["minirnn SimpleRNN"] = (layer_loss, layer_dw, layer_du)
    print(f"{'':20s} {'loss':>22s} {'dL/dw':>22s} {'dL/du':>22s}")
    for name, (l, a, b) in results.items():
        print(f"{name:20s} {l:22.16f} {a:22.16f} {b:22.16f}")
    worst = max(abs(a - b) / max(abs(b), 1e-300) for r in results.values()
                for a, b in zip(r, results["by hand"]))
    worst_step = float(np.max(np.abs(layer_steps - np.array(per_step)) / np.abs(per_step)))
    print("\ndL/dh_t reaching each step (by hand):", np.array2string(np.array(per_step), precision=4))
    print(f"max relative difference from the hand BPTT: {worst:.1e} (weights), "
          f"{worst_step:.1e} (per-step dL/dh_t)")
    return max(worst, worst_step)


if __name__ == "__main__":
    main()
