"""Command line: `python -m minirnn gradcheck` and `python -m minirnn bptt`.

gradcheck  prints, for every op and layer, the largest relative error of its gradient against
           finite differences (float64), and against TensorFlow when it is installed.
bptt       prints (and with --plot draws) the gradient norm ||dL/dh_t|| that BPTT delivers to
           each timestep of a fresh recurrent layer, for a loss on its last output.
"""
import argparse
import os
import sys

import numpy as np

from . import layers, ops
from .gradcheck import check_grads, GradientCheckError
from .tensor import Tensor, floatx, set_floatx

_RNG_SEED = 0


def _arrays(*shapes, positive=False, seed=_RNG_SEED):
    rng = np.random.default_rng(seed)
    out = [rng.uniform(0.5, 2.0, s) if positive else rng.standard_normal(s) for s in shapes]
    return out


# name -> (minirnn function, TensorFlow function or None, inputs)
def _op_cases():
    return {
        "add (broadcast)": (ops.add, lambda tf, a, b: a + b, _arrays((3, 4), (4,))),
        "sub (broadcast)": (ops.sub, lambda tf, a, b: a - b, _arrays((3, 1), (1, 4))),
        "mul (broadcast)": (ops.mul, lambda tf, a, b: a * b, _arrays((2, 3, 4), (3, 1))),
        "div": (ops.div, lambda tf, a, b: a / b, _arrays((3, 4)) + _arrays((3, 4), positive=True, seed=1)),
        "neg": (ops.neg, lambda tf, a: -a, _arrays((3, 4))),
        "pow": (lambda a: ops.pow(a, 3.0), lambda tf, a: a ** 3, _arrays((3, 4))),
        "matmul 2-D": (ops.matmul, lambda tf, a, b: a @ b, _arrays((3, 4), (4, 5))),
        "matmul batched": (ops.matmul, lambda tf, a, b: tf.matmul(a, tf.broadcast_to(b, (2, 4, 5))),
                           _arrays((2, 3, 4), (4, 5))),
        "exp": (ops.exp, lambda tf, a: tf.exp(a), _arrays((3, 4))),
        "log": (ops.log, lambda tf, a: tf.math.log(a), _arrays((3, 4), positive=True)),
        "sqrt": (ops.sqrt, lambda tf, a: tf.sqrt(a), _arrays((3, 4), positive=True)),
        "abs": (ops.abs, lambda tf, a: tf.abs(a), _arrays((3, 4), positive=True)),
        "tanh": (ops.tanh, lambda tf, a: tf.tanh(a), _arrays((3, 4))),
        "sigmoid": (ops.sigmoid, lambda tf, a: tf.sigmoid(a), _arrays((3, 4))),
        "relu": (ops.relu, lambda tf, a: tf.nn.relu(a), _arrays((3, 4), positive=True)),
        "softplus": (ops.softplus, lambda tf, a: tf.nn.softplus(a), _arrays((3, 4))),
        "softmax": (ops.softmax, lambda tf, a: tf.nn.softmax(a), _arrays((3, 4))),
        "log_softmax": (ops.log_softmax, lambda tf, a: tf.nn.log_softmax(a), _arrays((3, 4))),
        "sum": (lambda a: ops.sum(a, axis=0), lambda tf, a: tf.reduce_sum(a, 0), _arrays((3, 4))),
        "mean": (lambda a: ops.mean(a, axis=1), lambda tf, a: tf.reduce_mean(a, 1), _arrays((3, 4))),
        "max": (lambda a: ops.max(a, axis=1), lambda tf, a: tf.reduce_max(a, 1), _arrays((3, 4))),
        "min": (lambda a: ops.min(a, axis=0), lambda tf, a: tf.reduce_min(a, 0), _arrays((3, 4))),
        "reshape": (lambda a: ops.reshape(a, (4, 3)), lambda tf, a: tf.reshape(a, (4, 3)), _arrays((3, 4))),
        "transpose": (lambda a: ops.transpose(a, (2, 0, 1)), lambda tf, a: tf.transpose(a, (2, 0, 1)),
                      _arrays((2, 3, 4))),
        "getitem (repeated)": (lambda a: a[[0, 2, 0]], lambda tf, a: tf.gather(a, [0, 2, 0]),
                               _arrays((3, 4))),
        "concat": (lambda a, b: ops.concat([a, b], axis=1), lambda tf, a, b: tf.concat([a, b], 1),
                   _arrays((3, 4), (3, 2))),
        "stack": (lambda a, b: ops.stack([a, b], axis=1), lambda tf, a, b: tf.stack([a, b], 1),
                  _arrays((3, 4), (3, 4))),
        "split": (lambda a: ops.split(a, 2, axis=1)[1], lambda tf, a: tf.split(a, 2, axis=1)[1],
                  _arrays((3, 4))),
        "where": (lambda a, b: ops.where(np.asarray(a) > 0, a, b), lambda tf, a, b: tf.where(a > 0, a, b),
                  _arrays((3, 4), (3, 4))),
        "maximum": (ops.maximum, lambda tf, a, b: tf.maximum(a, b), _arrays((3, 4), (3, 4))),
        "minimum": (ops.minimum, lambda tf, a, b: tf.minimum(a, b), _arrays((3, 4), (3, 4))),
        "clip": (lambda a: ops.clip(a, -0.5, 0.5), lambda tf, a: tf.clip_by_value(a, -0.5, 0.5),
                 _arrays((3, 4))),
        "einsum": (lambda a, b: ops.einsum("bij,jk->bik", a, b),
                   lambda tf, a, b: tf.einsum("bij,jk->bik", a, b), _arrays((2, 3, 4), (4, 5))),
    }


def _layer_cases():
    """name -> (minirnn layer factory, Keras layer factory, input shape)."""
    rnn = {"SimpleRNN": {}, "LSTM": {}, "GRU": {}, "GRU reset_after=False": {"reset_after": False}}
    cases = {}
    for name, kwargs in rnn.items():
        cls = name.split()[0]
        for unroll in (False, True):
            label = f"{name} ({'unrolled' if unroll else 'fused'})"
            cases[label] = (lambda c=cls, k=kwargs, u=unroll: getattr(layers, c)(3, return_sequences=True,
                                                                                  unroll=u, **k),
                            lambda keras, c=cls, k=kwargs: getattr(keras.layers, c)(
                                3, return_sequences=True, dtype="float64", **k),
                            (2, 4, 2))
    cases["Bidirectional(LSTM)"] = (
        lambda: layers.Bidirectional(layers.LSTM(2, return_sequences=True)),
        lambda keras: keras.layers.Bidirectional(keras.layers.LSTM(2, return_sequences=True,
                                                                   dtype="float64"), dtype="float64"),
        (2, 3, 2))
    cases["Dense"] = (lambda: layers.Dense(3, activation="tanh"),
                      lambda keras: keras.layers.Dense(3, activation="tanh", dtype="float64"), (2, 4, 2))
    return cases


def _import_tf():
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        import keras
        import tensorflow as tf
    except ImportError:
        return None, None
    return tf, keras


def _relative(a, b):
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-300))


def _tf_op_error(tf, tf_fn, fn, inputs):
    projection = np.random.default_rng(1).standard_normal(np.shape(fn(*inputs).data))
    variables = [tf.Variable(x) for x in inputs]
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf_fn(tf, *variables) * projection)
    tf_grads = tape.gradient(loss, variables)
    tensors = [Tensor(x, requires_grad=True) for x in inputs]
    (fn(*tensors) * projection).sum().backward()
    return max(_relative(t.grad, tf.convert_to_tensor(g).numpy()) for t, g in zip(tensors, tf_grads))


def _tf_layer_error(tf, keras, make, make_keras, shape):
    x = np.random.default_rng(2).standard_normal(shape)
    ours, theirs = make(), make_keras(keras)
    theirs.build(shape)
    ours.build(shape)
    ours.set_weights(theirs.get_weights())
    x_tf = tf.Variable(x)
    with tf.GradientTape() as tape:
        out = theirs(x_tf)
        projection = np.random.default_rng(3).standard_normal(out.shape)
        loss = tf.reduce_sum(out * projection)
    tf_grads = tape.gradient(loss, [x_tf] + theirs.trainable_weights)
    x_ours = Tensor(x, requires_grad=True)
    (ours(x_ours) * projection).sum().backward()
    return max(_relative(a, b.numpy()) for a, b in
               zip([x_ours.grad] + [w.grad for w in ours.trainable_weights], tf_grads))


def gradcheck_command(args):
    previous = floatx()
    set_floatx("float64")
    tf, keras = (None, None) if args.no_tf else _import_tf()
    header = f"{'op / layer':32s} {'vs finite diff':>15s}" + (f" {'vs TensorFlow':>15s}" if tf else "")
    print(header)
    print("-" * len(header))
    failures = 0
    try:
        for name, (fn, tf_fn, inputs) in _op_cases().items():
            failures += _report(name, lambda: check_grads(fn, *inputs),
                                (lambda: _tf_op_error(tf, tf_fn, fn, inputs)) if tf else None)
        for name, (make, make_keras, shape) in _layer_cases().items():
            layer = make()
            layer.build(shape)
            x = np.random.default_rng(2).standard_normal(shape)
            failures += _report(name, lambda: check_grads(layer, x, params=layer.weights),
                                (lambda: _tf_layer_error(tf, keras, make, make_keras, shape)) if tf else None)
    finally:
        set_floatx(previous)
    if tf is None and not args.no_tf:
        print("\n(TensorFlow is not installed: pip install tensorflow-cpu to compare with it too)")
    print(f"\n{'all gradients agree' if not failures else f'{failures} disagreement(s)'} "
          f"(tolerance: relative 1e-6 against finite differences, 1e-9 against TensorFlow)")
    return 1 if failures else 0


def _report(name, finite_difference, against_tf):
    try:
        fd = f"{finite_difference():15.1e}"
        bad = False
    except GradientCheckError:
        fd, bad = f"{'FAILED':>15s}", True
    line = f"{name:32s} {fd}"
    if against_tf is not None:
        err = against_tf()
        bad = bad or err > 1e-9
        line += f" {err:15.1e}"
    print(line)
    return int(bad)


def bptt_command(args):
    cells = {"lstm": layers.LSTM, "gru": layers.GRU, "simple_rnn": layers.SimpleRNN, "rnn": layers.SimpleRNN}
    if args.timesteps < 1:
        raise SystemExit(f"--timesteps must be >= 1; got {args.timesteps}")
    from .random import set_random_seed
    set_random_seed(args.seed)
    layer = cells[args.cell](args.units)
    x = np.random.default_rng(args.seed).standard_normal((args.batch, args.timesteps, args.features))
    out = layer(x.astype(layer.dtype))
    out.sum().backward()  # the loss reads the last output only: what reaches step t travelled T-1-t steps
    norms = layer.bptt_gradient_norms
    print(f"{type(layer).__name__}({args.units}), {args.timesteps} timesteps, batch {args.batch}: "
          f"||dL/dh_t|| for a loss on the last output")
    logs = np.log10(np.maximum(norms, 1e-300))
    low, span = logs.min(), max(logs.max() - logs.min(), 1e-12)
    stride = max(1, args.timesteps // args.rows)
    shown = sorted(set(range(0, args.timesteps, stride)) | {args.timesteps - 1})
    print(f"(bars on a log scale, from {norms.min():.1e} to {norms.max():.1e})")
    for t in shown:
        print(f"t={t:5d}  {norms[t]:10.3e}  {'#' * int(round(1 + 39 * (logs[t] - low) / span))}")
    if args.plot:
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("matplotlib is not installed: pip install 'minirnn[plot]' for --plot", file=sys.stderr)
            return 1
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.semilogy(np.arange(args.timesteps), np.maximum(norms, 1e-300))
        ax.set_xlabel("timestep t")
        ax.set_ylabel("mean ||dL/dh_t||")
        ax.set_title(f"BPTT gradient per timestep, fresh {type(layer).__name__}({args.units})")
        fig.tight_layout()
        fig.savefig(args.plot)
        print(f"plot written to {args.plot}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="minirnn", description="minirnn's command line")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("gradcheck", help="gradient errors of every op and layer")
    check.add_argument("--no-tf", action="store_true", help="skip the TensorFlow comparison")
    check.set_defaults(run=gradcheck_command)
    bptt = commands.add_parser("bptt", help="gradient norm per timestep of a fresh recurrent layer")
    bptt.add_argument("--cell", choices=["lstm", "gru", "simple_rnn", "rnn"], default="lstm")
    bptt.add_argument("--timesteps", type=int, default=100)
    bptt.add_argument("--units", type=int, default=32)
    bptt.add_argument("--features", type=int, default=8)
    bptt.add_argument("--batch", type=int, default=16)
    bptt.add_argument("--rows", type=int, default=20, help="how many timesteps to print")
    bptt.add_argument("--seed", type=int, default=0)
    bptt.add_argument("--plot", metavar="FILE", help="draw the curve to a PNG (needs matplotlib)")
    bptt.set_defaults(run=bptt_command)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
