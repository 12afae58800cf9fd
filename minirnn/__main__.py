"""Command line: `python -m minirnn gradcheck` and `python -m minirnn bptt`.

gradcheck  prints, for every op and layer, the largest relative error of its gradient against
           finite differences (float64), and against TensorFlow when it is installed.
bptt       prints (and with --plot draws on one log-scale axes) the gradient norm ||dL/dh_t||
           that BPTT delivers to each timestep of fresh recurrent layers, one or several cells
           (--cell simple_rnn,lstm,gru), for L = the sum of the last output h_T.
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


# --cell names -> layer class; "rnn" is another name for simple_rnn
_CELLS = {"simple_rnn": layers.SimpleRNN, "lstm": layers.LSTM, "gru": layers.GRU, "rnn": layers.SimpleRNN}

# what bptt differentiates: the layer returns only its last output h_T, and the loss adds it up
BPTT_LOSS = "L = sum of h_T over the batch and the units"


def _cell_list(text):
    """--cell: one name or several separated by commas, each a key of _CELLS, none twice."""
    names = [name.strip() for name in text.split(",")]
    choices = ", ".join(_CELLS)
    for name in names:
        if name not in _CELLS:
            raise argparse.ArgumentTypeError(
                f"expected cell names from {choices}, separated by commas (e.g. simple_rnn,lstm,gru); "
                f"got {name!r} in {text!r}")
    classes = [_CELLS[name] for name in names]
    for cls in classes:
        if classes.count(cls) > 1:
            raise argparse.ArgumentTypeError(f"expected each cell once; got {cls.__name__} more than "
                                             f"once in {text!r} (rnn and simple_rnn are the same cell)")
    return names


def _int_at_least(minimum, what):
    """An argparse type: int(text) >= minimum, else an error naming what was expected."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"expected {what}; got {text!r}")
        return value
    return parse


_positive = _int_at_least(1, "a positive integer (>= 1)")
_non_negative = _int_at_least(0, "a non-negative integer (>= 0)")


def bptt_norms(cells, timesteps=100, units=32, features=8, batch=16, seed=0):
    """{"LSTM(32)": norms, ...}: mean ||dL/dh_t|| per timestep, (timesteps,), of each fresh layer.

    Every cell sees the same input and is built right after set_random_seed(seed), so its weights
    do not depend on which other cells are listed. The loss is BPTT_LOSS, hence dL/dh_T is all ones
    and the last norm is sqrt(units) for every cell.
    """
    from .random import set_random_seed
    x = np.random.default_rng(seed).standard_normal((batch, timesteps, features))
    norms = {}
    for name in cells:
        set_random_seed(seed)
        layer = _CELLS[name](units)
        out = layer(x.astype(layer.dtype))
        out.sum().backward()
        norms[f"{type(layer).__name__}({units})"] = layer.bptt_gradient_norms
    return norms


def bptt_figure(norms, title):
    """One axes, log y shared by every cell: ||dL/dh_t|| against t, one line per cell."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(7.5, 4.5))
    ax = fig.subplots()
    styles = ["-", "--", "-.", ":"]  # told apart in grey print too
    for i, (label, n) in enumerate(norms.items()):
        # a norm that underflowed to 0 has no place on a log axis: left out, not drawn at a floor
        ax.plot(np.arange(len(n)), np.where(n > 0, n, np.nan), styles[i % len(styles)], label=label)
    ax.set_yscale("log")
    ax.set_xlabel("timestep t")
    ax.set_ylabel("||dL/dh_t||, mean over the batch")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(title="cell")
    fig.tight_layout()
    return fig


def _bptt_table(norms, timesteps, rows):
    """Lines of a table: a column per cell, a row per shown timestep, then the first/last ratio."""
    labels = list(norms)
    width = max(12, *(len(label) for label in labels))
    stride = max(1, timesteps // rows)
    shown = sorted(set(range(0, timesteps, stride)) | {timesteps - 1})
    lines = [f"{'t':>6s}" + "".join(f"  {label:>{width}s}" for label in labels)]
    lines += [f"{t:6d}" + "".join(f"  {norms[label][t]:{width}.3e}" for label in labels) for t in shown]
    lines.append(f"ratio t=0 / t={timesteps - 1}: " + ", ".join(
        f"{label} {norms[label][0] / norms[label][-1]:.1e}" for label in labels))
    return lines


def _print_lines(lines):
    """Print, and stop quietly if the reader has gone (`python -m minirnn bptt | head -1`)."""
    try:
        for line in lines:
            print(line)
        sys.stdout.flush()
    except BrokenPipeError:
        # the reader chose to stop reading: not an error. Point stdout at devnull so that the
        # interpreter's last flush at exit does not raise again.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass


def bptt_command(args):
    if args.plot:
        try:
            import matplotlib  # noqa: F401  (checked before the work, not after)
        except ImportError:
            print("matplotlib is not installed: pip install 'minirnn[plot]' for --plot", file=sys.stderr)
            return 1
    norms = bptt_norms(args.cell, args.timesteps, args.units, args.features, args.batch, args.seed)
    lines = [f"{', '.join(norms)}: {args.timesteps} timesteps, batch {args.batch}, "
             f"{args.features} features, seed {args.seed}",
             f"||dL/dh_t|| (L2 norm over the units, mean over the batch) of fresh layers, {BPTT_LOSS}",
             ""]
    lines += _bptt_table(norms, args.timesteps, args.rows)
    if args.plot:
        title = (f"Gradient reaching each timestep, fresh layers, {args.timesteps} steps\n"
                 f"{BPTT_LOSS} (batch {args.batch})")
        try:
            bptt_figure(norms, title).savefig(args.plot)
        except OSError as error:
            print(f"--plot: cannot write {args.plot!r}: {error}", file=sys.stderr)
            return 1
        lines.append(f"plot written to {args.plot}")
    _print_lines(lines)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="minirnn", description="minirnn's command line")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("gradcheck", help="gradient errors of every op and layer")
    check.add_argument("--no-tf", action="store_true", help="skip the TensorFlow comparison")
    check.set_defaults(run=gradcheck_command)
    bptt = commands.add_parser("bptt", help="gradient norm per timestep of fresh recurrent layers")
    bptt.add_argument("--cell", type=_cell_list, default=["lstm"], metavar="CELL[,CELL...]",
                      help=f"one or more of {', '.join(_CELLS)}, separated by commas (default: lstm)")
    bptt.add_argument("--timesteps", type=_positive, default=100)
    bptt.add_argument("--units", type=_positive, default=32)
    bptt.add_argument("--features", type=_positive, default=8)
    bptt.add_argument("--batch", type=_positive, default=16)
    bptt.add_argument("--rows", type=_positive, default=20, help="how many timesteps to print")
    bptt.add_argument("--seed", type=_non_negative, default=0)
    bptt.add_argument("--plot", metavar="FILE",
                      help="draw every cell on one log-scale axes to a PNG (needs matplotlib)")
    bptt.set_defaults(run=bptt_command)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
