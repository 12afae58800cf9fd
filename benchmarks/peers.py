"""One training step of `RNN(units) -> Dense(1)`, MSE on the last output, Adam, float32, in
minirnn and in each peer framework, all from the same initial weights and the same batch.

Import this module only after `threadenv.set_thread_env()`.

Every builder takes a `Problem` and returns a zero-argument callable running ONE training step
(forward, BPTT, Adam update) to completion and returning the loss as a Python float. The models
are kept equivalent:

* weights in Keras's layout and gate order (kernel (D, kH), recurrent kernel (H, kH), bias (kH,),
  GRU reset_after=True bias (2, 3H); LSTM gates i f c o, GRU z r h), drawn once by minirnn's
  Keras initializers and copied into every framework (PyTorch's gate order and its second bias
  are mapped; a bias Keras does not have is held at zero and not trained);
* loss: mean squared error of Dense(1) on the last hidden state;
* Adam: lr 1e-3, beta_1 0.9, beta_2 0.999, epsilon 1e-7 (Keras's defaults) everywhere.

Because of this the first step's loss is the same in every framework (to float32 rounding),
which the benchmark checks.
"""
import math

import numpy as np

from frameworks import PEERS

CELLS = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}          # gate blocks k: weights are (., k*H)
LR, BETA_1, BETA_2, EPSILON = 1e-3, 0.9, 0.999, 1e-7    # Keras's Adam defaults

class Problem:
    """A cell, the sizes, the batch and the initial weights (Keras layout), all float32."""

    def __init__(self, cell, B, T, D, H, seed=0):
        if cell not in CELLS:
            raise ValueError(f"unknown cell {cell!r}; expected one of {list(CELLS)}")
        self.cell, self.B, self.T, self.D, self.H, self.k = cell, B, T, D, H, CELLS[cell]
        rng = np.random.default_rng(seed)
        self.x = rng.standard_normal((B, T, D)).astype(np.float32)
        self.y = rng.standard_normal((B, 1)).astype(np.float32)
        self.weights = initial_weights(cell, D, H, seed)

    def __repr__(self):
        return f"Problem({self.cell}, B={self.B}, T={self.T}, D={self.D}, H={self.H})"


def initial_weights(cell, D, H, seed=0):
    """[kernel, recurrent_kernel, bias, dense_kernel, dense_bias] as Keras initialises them."""
    import minirnn
    from minirnn.layers import Dense
    from minirnn.models import Input, Sequential
    minirnn.set_random_seed(seed)
    model = Sequential([Input((None, D)), getattr(minirnn.layers, cell)(H), Dense(1)])
    return [np.asarray(w, dtype=np.float32) for w in model.get_weights()]


def versions(frameworks):
    from importlib import metadata
    out = {"numpy": np.__version__}
    for fw in frameworks:
        if fw.startswith("minirnn"):
            import minirnn
            out["minirnn"] = minirnn.__version__
        elif fw in PEERS:
            module = __import__(PEERS[fw][0])
            version = getattr(module, "__version__", None)
            if version is None:
                try:
                    version = metadata.version(PEERS[fw][0])
                except metadata.PackageNotFoundError:
                    version = "?"
            out[PEERS[fw][1]] = version
    return out


def thread_cpu_ticks():
    """{thread id: user + system CPU clock ticks} for this process's threads (Linux; {} elsewhere).
    Accumulated over many steps it shows how many threads a framework really computes on."""
    import os
    ticks = {}
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return ticks
    for tid in tids:
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ticks[int(tid)] = int(fields[11]) + int(fields[12])   # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return ticks


def build(framework, problem, threads=1, minirnn_kwargs=None):
    """The one-step callable of `framework` for `problem`."""
    builders = {"minirnn-fused": lambda: build_minirnn(problem, False, minirnn_kwargs),
                "minirnn-unrolled": lambda: build_minirnn(problem, True, minirnn_kwargs),
                "tf": lambda: build_tf(problem, threads), "torch": lambda: build_torch(problem, threads),
                "torch-aten": lambda: build_torch(problem, threads, onednn=False),
                "jax": lambda: build_jax(problem), "autograd": lambda: build_autograd(problem)}
    return builders[framework]()


# -- minirnn -------------------------------------------------------------------------------------

def build_minirnn(p, unroll, layer_kwargs=None):
    import minirnn
    from minirnn.layers import Dense
    from minirnn.models import Input, Sequential
    layer = getattr(minirnn.layers, p.cell)(p.H, unroll=unroll, **(layer_kwargs or {}))
    model = Sequential([Input((p.T, p.D)), layer, Dense(1)])
    model.compile(optimizer=minirnn.optimizers.Adam(LR, BETA_1, BETA_2, EPSILON), loss="mse")
    model.set_weights(p.weights)
    x, y = p.x, p.y
    return lambda: float(model.train_on_batch(x, y))


# -- TensorFlow / Keras: tf.function train step with GradientTape ---------------------------------

def _tf():
    import tensorflow as tf
    return tf


def configure_tf(threads):
    tf = _tf()
    try:  # only possible before TF's runtime starts; the env vars already say the same
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        pass
    return tf


def build_tf(p, threads=1):
    tf = configure_tf(threads)
    import keras
    model = keras.Sequential([keras.Input((p.T, p.D)), getattr(keras.layers, p.cell)(p.H),
                              keras.layers.Dense(1)])
    model.set_weights(p.weights)
    opt = keras.optimizers.Adam(learning_rate=LR, beta_1=BETA_1, beta_2=BETA_2, epsilon=EPSILON)
    opt.build(model.trainable_variables)
    loss_fn = keras.losses.MeanSquaredError()

    @tf.function
    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    x, y = tf.constant(p.x), tf.constant(p.y)
    train_step.get_concrete_function(x, y)   # traced here; TF still optimises it on the first call
    return lambda: float(train_step(x, y))


# -- PyTorch: nn.RNN(tanh) / nn.LSTM / nn.GRU, batch_first, + Linear, torch.optim.Adam -----------

def _to_torch_gates(w, p, axis):
    """Keras gate blocks -> PyTorch's order along `axis` (GRU: z r h -> r z n; others equal)."""
    if p.cell != "GRU":
        return w
    z, r, h = np.split(w, 3, axis=axis)
    return np.concatenate([r, z, h], axis=axis)


def build_torch(p, threads=1, onednn=True):
    """onednn=False: the step runs with oneDNN (MKL-DNN) off, so nn.LSTM trains on PyTorch's
    generic operators instead of oneDNN's fused RNN kernel (the switch is global: it is set
    around each step, and the other PyTorch peer's steps run with PyTorch's default)."""
    import torch
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(threads)
    except RuntimeError:  # only allowed once, before any inter-op work
        pass
    rnn_cls = {"SimpleRNN": lambda: torch.nn.RNN(p.D, p.H, nonlinearity="tanh", batch_first=True),
               "LSTM": lambda: torch.nn.LSTM(p.D, p.H, batch_first=True),
               "GRU": lambda: torch.nn.GRU(p.D, p.H, batch_first=True)}[p.cell]

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn, self.dense = rnn_cls(), torch.nn.Linear(p.H, 1)

        def forward(self, x):
            out, _ = self.rnn(x)
            return self.dense(out[:, -1])

    net = Net()
    kernel, rec, bias, dense_k, dense_b = p.weights
    if p.cell == "GRU":       # Keras reset_after=True: (input bias, recurrent bias), as PyTorch's
        b_ih, b_hh = _to_torch_gates(bias[0], p, 0), _to_torch_gates(bias[1], p, 0)
    else:                     # Keras has one bias: PyTorch's second one stays zero, untrained
        b_ih, b_hh = bias, np.zeros_like(bias)
    with torch.no_grad():
        net.rnn.weight_ih_l0.copy_(torch.from_numpy(_to_torch_gates(kernel, p, 1).T.copy()))
        net.rnn.weight_hh_l0.copy_(torch.from_numpy(_to_torch_gates(rec, p, 1).T.copy()))
        net.rnn.bias_ih_l0.copy_(torch.from_numpy(np.ascontiguousarray(b_ih)))
        net.rnn.bias_hh_l0.copy_(torch.from_numpy(np.ascontiguousarray(b_hh)))
        net.dense.weight.copy_(torch.from_numpy(dense_k.T.copy()))
        net.dense.bias.copy_(torch.from_numpy(dense_b.copy()))
    if p.cell != "GRU":
        net.rnn.bias_hh_l0.requires_grad_(False)
    params = [q for q in net.parameters() if q.requires_grad]
    opt = torch.optim.Adam(params, lr=LR, betas=(BETA_1, BETA_2), eps=EPSILON)
    x, y = torch.from_numpy(p.x), torch.from_numpy(p.y)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.mse_loss(net(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    if onednn:
        return step

    def step_without_onednn():
        with torch.backends.mkldnn.flags(enabled=False):
            return step()
    return step_without_onednn


# -- the cell written once over a NumPy-like module (JAX and HIPS autograd) ----------------------

def _sigmoid(xp, z):
    return 0.5 * xp.tanh(0.5 * z) + 0.5


def cell_step(xp, cell, H, zx, state, w_h, b_h):
    """One step of `cell` given zx = x_t @ W_x + b_x, in Keras's math; state is a tuple."""
    if cell == "SimpleRNN":
        return (xp.tanh(zx + state[0] @ w_h),)
    if cell == "LSTM":
        h, c = state
        z = zx + h @ w_h
        i, f = _sigmoid(xp, z[:, :H]), _sigmoid(xp, z[:, H:2 * H])
        g, o = xp.tanh(z[:, 2 * H:3 * H]), _sigmoid(xp, z[:, 3 * H:])
        c = f * c + i * g
        return (o * xp.tanh(c), c)
    h = state[0]                                   # GRU, reset_after=True
    zh = h @ w_h + b_h
    z = _sigmoid(xp, zx[:, :H] + zh[:, :H])
    r = _sigmoid(xp, zx[:, H:2 * H] + zh[:, H:2 * H])
    hh = xp.tanh(zx[:, 2 * H:] + r * zh[:, 2 * H:])
    return (z * h + (1.0 - z) * hh,)


def _split_bias(p, bias):
    return (bias[0], bias[1]) if p.cell == "GRU" else (bias, None)


def _n_states(p):
    return 2 if p.cell == "LSTM" else 1


def _keras_adam(xp, params, grads, ms, vs, t):
    """Keras 3's Adam (bias correction folded into the step size); t counts from 1."""
    alpha = LR * xp.sqrt(1.0 - BETA_2 ** t) / (1.0 - BETA_1 ** t)
    ms = [m + (g - m) * (1.0 - BETA_1) for m, g in zip(ms, grads)]
    vs = [v + (g * g - v) * (1.0 - BETA_2) for v, g in zip(vs, grads)]
    params = [w - alpha * m / (xp.sqrt(v) + EPSILON) for w, m, v in zip(params, ms, vs)]
    return params, ms, vs


# -- JAX: jax.jit of the whole step, lax.scan over time ------------------------------------------

def build_jax(p):
    import jax
    import jax.numpy as jnp
    from jax import lax

    def loss_fn(params, x, y):
        w_x, w_h, bias, w_d, b_d = params
        b_x, b_h = _split_bias(p, bias)
        zx = jnp.swapaxes(x, 0, 1) @ w_x + b_x                 # (T, B, kH), hoisted
        state0 = tuple(jnp.zeros((p.B, p.H), jnp.float32) for _ in range(_n_states(p)))

        def body(state, zx_t):
            return cell_step(jnp, p.cell, p.H, zx_t, state, w_h, b_h), None
        state, _ = lax.scan(body, state0, zx)
        pred = state[0] @ w_d + b_d
        return jnp.mean((pred - y) ** 2)

    @jax.jit
    def train_step(params, ms, vs, t, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        t = t + 1.0
        params, ms, vs = _keras_adam(jnp, params, grads, ms, vs, t)
        return params, ms, vs, t, loss

    state = {"params": [jnp.asarray(w) for w in p.weights],
             "ms": [jnp.zeros(w.shape, jnp.float32) for w in p.weights],
             "vs": [jnp.zeros(w.shape, jnp.float32) for w in p.weights],
             "t": jnp.float32(0.0)}
    x, y = jnp.asarray(p.x), jnp.asarray(p.y)
    # compiled here, ahead of time, so that the first step only runs (bench_memory measures it)
    compiled = train_step.lower(state["params"], state["ms"], state["vs"], state["t"], x,
                                y).compile()

    def step():
        s = state
        s["params"], s["ms"], s["vs"], s["t"], loss = compiled(s["params"], s["ms"], s["vs"],
                                                               s["t"], x, y)
        return float(loss)       # waits for the result
    return step


# -- HIPS autograd: generic per-timestep autodiff, hand-written Adam -----------------------------

def build_autograd(p):
    import autograd.numpy as anp
    from autograd import value_and_grad

    def loss_fn(params, x, y):
        w_x, w_h, bias, w_d, b_d = params
        b_x, b_h = _split_bias(p, bias)
        state = tuple(np.zeros((p.B, p.H), np.float32) for _ in range(_n_states(p)))
        for t in range(p.T):   # input projection per step: slicing a gradient-carrying (B,T,kH)
            zx = x[:, t] @ w_x + b_x   # array would cost a full-size zero array per step in BPTT
            state = cell_step(anp, p.cell, p.H, zx, state, w_h, b_h)
        pred = anp.dot(state[0], w_d) + b_d
        return anp.mean((pred - y) ** 2)

    grad_fn = value_and_grad(loss_fn)
    params = [w.copy() for w in p.weights]
    ms = [np.zeros_like(w) for w in params]
    vs = [np.zeros_like(w) for w in params]
    count = [0]

    def step():
        loss, grads = grad_fn(params, p.x, p.y)
        count[0] += 1
        t = np.float32(count[0])
        new, ms[:], vs[:] = _keras_adam(np, params, [np.asarray(g, np.float32) for g in grads],
                                        ms, vs, t)
        params[:] = [w.astype(np.float32, copy=False) for w in new]
        return float(loss)
    return step


# -- the matrix-product floor --------------------------------------------------------------------

def step_matmuls(cell, B, T, D, H):
    """The matrix products one training step needs at least: (name, a shape, b shape, transposes,
    count). Forward: the hoisted input projection, the recurrent product per step, Dense; backward:
    dW_x and dW_h (one product each over all steps), dh_{t-1} per step, Dense's two products.
    The gradient w.r.t. the input x is not needed (x is data) and is left out."""
    kH = CELLS[cell] * H
    return [("X @ W_x", (T * B, D), (D, kH), "", 1),
            ("h @ W_h", (B, H), (H, kH), "", T),
            ("h @ W_d", (B, H), (H, 1), "", 1),
            ("dy @ W_d^T", (B, 1), (H, 1), "b", 1),
            ("h^T @ dy", (B, H), (B, 1), "a", 1),
            ("dz @ W_h^T", (B, kH), (H, kH), "b", T),
            ("X^T @ dZ", (T * B, D), (T * B, kH), "a", 1),
            ("H^T @ dZ", (T * B, H), (T * B, kH), "a", 1)]


def matmul_floor(cell, B, T, D, H, repeats=7, seed=0):
    """FLOPs of the step's matrix products and the time NumPy's BLAS (single-threaded where the
    thread env says so) takes for them at exactly these shapes: each product timed on its own,
    output preallocated, best of `repeats`. Returns a dict: flops, seconds, gflops, per-product."""
    import time
    rng = np.random.default_rng(seed)
    total_flops, total_s, parts = 0, 0.0, []
    for name, a_shape, b_shape, trans, count in step_matmuls(cell, B, T, D, H):
        a = rng.standard_normal(a_shape).astype(np.float32)
        b = rng.standard_normal(b_shape).astype(np.float32)
        a = a.T if "a" in trans else a
        b = b.T if "b" in trans else b
        m, kk = a.shape
        n = b.shape[1]
        out = np.empty((m, n), np.float32)
        flops = 2 * m * kk * n * count
        inner = max(count, 5)
        np.matmul(a, b, out=out)
        best = math.inf
        for _ in range(repeats):
            t0 = time.perf_counter()
            for _ in range(inner):
                np.matmul(a, b, out=out)
            best = min(best, (time.perf_counter() - t0) / inner * count)
        parts.append({"product": name, "m": m, "k": kk, "n": n, "count": count, "flops": flops,
                      "seconds": best})
        total_flops += flops
        total_s += best
    return {"flops": total_flops, "seconds": total_s, "gflops": total_flops / total_s / 1e9,
            "products": parts}
