"""check_cell: a recurrent cell's hand-written backward step against the engine and finite differences.

A cell of one's own may give RNN its step's BPTT by hand (`step_forward` / `step_backward`, the
protocol in RNN's docstring). `check_cell` holds that code, in float64, to two independent
references: the engine's autodiff of the cell's `call` (built from ops), and a fourth-order
central difference of `step_forward`; then it runs a short sequence both ways through RNN (the
reference BPTT loop over the steps, and the engine over the cell's `call`). Where they disagree it
raises CellCheckError listing each state, gate block and weight that differs, with the worst
element and both values.
"""
import numpy as np

from .gradcheck import numerical_grad
from .layers.base import Layer, flatten
from .tensor import Tensor

__all__ = ["check_cell", "CellCheckError"]


class CellCheckError(ValueError):
    """A cell's hand-written backward (or forward) step disagrees with its references."""


def _blocks(name, analytic, reference, units, rtol, atol):
    """The parts of a weight gradient that disagree: column blocks of `units` (one per gate) for a
    weight whose last axis holds several, else the whole array. Returns (label, worst) pairs."""
    bad = []
    a, r = np.asarray(analytic, np.float64), np.asarray(reference, np.float64)
    if a.shape != r.shape:
        return [(f"{name}: gradient of shape {a.shape}, expected {r.shape}", None)]
    k = a.shape[-1] if a.ndim else 0
    n_blocks = k // units if units and k % units == 0 and k > units else 1
    for g in range(n_blocks):
        cols = slice(g * units, (g + 1) * units) if n_blocks > 1 else slice(None)
        ab, rb = a[..., cols], r[..., cols]
        err = np.abs(ab - rb)
        over = err > atol + rtol * np.maximum(np.abs(ab), np.abs(rb))
        if over.any():
            worst = np.unravel_index(np.argmax(np.where(over, err, -1)), ab.shape)
            where = f" columns {g * units}:{(g + 1) * units} (gate block {g} of {n_blocks})" \
                if n_blocks > 1 else ""
            bad.append((f"{name}{where}", (worst, float(ab[worst]), float(rb[worst]),
                                           float(err[worst]))))
    return bad


def _format(label, detail):
    if detail is None:
        return label
    index, got, want, err = detail
    return f"{label}: at {tuple(int(i) for i in index)} {got:.10g} vs {want:.10g} (|diff| {err:.3g})"


class _Float64:
    """The cell's weights (and dtype) as float64 while checking; restored afterwards."""

    def __init__(self, cell):
        self.cell = cell

    def __enter__(self):
        layers = [self.cell] + _sublayers(self.cell)
        self.saved = [(w, w.data) for w in self.cell.weights]
        self.dtypes = [(l, l.dtype) for l in layers]
        for w, data in self.saved:
            w.data = data.astype(np.float64)
        for l in layers:
            l.dtype = "float64"
        return self

    def __exit__(self, *exc):
        for w, data in self.saved:   # the caller's own arrays again, gradients of the check gone
            w.data, w.grad = data, None
        for l, dtype in self.dtypes:
            l.dtype = dtype


def _sublayers(layer):
    found = []
    for sub in getattr(layer, "_layers", []):
        found += [sub] + _sublayers(sub)
    return found


def check_cell(cell, input_shape=None, inputs=None, states=None, batch_size=3, timesteps=4,
               seed=0, rtol=1e-6, atol=1e-8):
    """Check a cell's hand-written `step_forward` / `step_backward` (RNN's protocol), in float64.

    cell: a Layer with state_size, call, step_forward, step_backward, kernel and recurrent_kernel
        (bias, step_weights, kernel_grad optional).
    input_shape: (batch, features), or inputs: an array of that shape; states: the initial states
        (a list of (batch, size) arrays), drawn at random if None.
    Compares, for the gradient arriving at each new state in turn: every input, state and weight
    gradient of step_backward (and RNN's products of it) against the engine's autodiff of `call`
    and against finite differences of `step_forward`; step_forward's states against `call`'s; and
    over a sequence of `timesteps` steps, RNN(cell)'s gradients on the hand-written path against
    RNN(cell, unroll=True) on the engine's.
    Raises CellCheckError listing what disagrees. Returns {check: largest relative error}.
    """
    from .layers.recurrent import RNN   # late: layers are built on this package's core
    from .layers.step_code import _StepCode
    from .layers.rnn_cells import cell_output_size
    if not isinstance(cell, Layer):
        raise TypeError(f"check_cell argument `cell` must be a Layer (an RNN cell); got "
                        f"{type(cell).__name__}")
    for name in ("step_forward", "step_backward"):
        if not callable(getattr(cell, name, None)):
            raise ValueError(f"check_cell: cell {type(cell).__name__} '{cell.name}' has no "
                             f"{name}; it checks a hand-written backward step")
    rng = np.random.default_rng(seed)
    if inputs is not None:
        x = np.array(inputs.data if isinstance(inputs, Tensor) else inputs, dtype=np.float64)
    elif input_shape is not None:
        shape = tuple(batch_size if d is None else int(d) for d in input_shape)
        x = rng.standard_normal(shape)
    else:
        raise ValueError("check_cell needs `input_shape` (batch, features) or `inputs`")
    if x.ndim != 2:
        raise ValueError(f"check_cell expects one step's input of shape (batch, features); got "
                         f"shape {x.shape}")
    B, D = x.shape
    if not cell.built:
        cell.build((B, D))
        cell.built = True
    state_size = cell.state_size
    sizes = [int(s) for s in (flatten(state_size) if isinstance(state_size, (list, tuple))
                              else [state_size])]
    if states is None:
        states = [0.5 * rng.standard_normal((B, s)) for s in sizes]
    states = [np.array(s.data if isinstance(s, Tensor) else s, dtype=np.float64) for s in states]
    units = sizes[0]
    problems, worst = [], {}
    code = _StepCode(cell, f"{type(cell).__name__} '{cell.name}'", len(states))

    with _Float64(cell):
        W_x, W_h = cell.kernel, cell.recurrent_kernel
        bias = getattr(cell, "bias", None)
        extras = list(getattr(cell, "step_weights", ()))
        weights = [("kernel", W_x), ("recurrent_kernel", W_h)] + \
                  ([("bias", bias)] if bias is not None else []) + \
                  [(f"step_weights[{i}] '{w.name}'", w) for i, w in enumerate(extras)]
        b = bias.data if bias is not None else 0.0

        def forward(x_, states_):
            return code.step_forward(x_ @ W_x.data + b, tuple(states_), W_h.data, None, None)

        # 1. the forward step against the cell's call
        hand_states, cache = forward(x, states)
        xt = Tensor(x.copy(), requires_grad=True)
        st = [Tensor(s.copy(), requires_grad=True) for s in states]
        kwargs = {"training": False} if "training" in getattr(cell, "_call_takes", ()) else {}
        output, new = cell(xt, list(st), **kwargs)
        new = flatten(list(new)) if isinstance(new, (list, tuple)) else [new]
        if len(new) != len(hand_states):
            problems.append(f"forward: call returned {len(new)} states, step_forward "
                            f"{len(hand_states)}")
        for i, (h, n) in enumerate(zip(hand_states, new)):
            for label, detail in _blocks(f"forward: new state {i}", h, n.data, None, rtol, atol):
                problems.append(_format(label, detail))
        for label, detail in _blocks("forward: output (call) vs new state 0 (step_forward)",
                                     hand_states[0], output.data, None, rtol, atol):
            problems.append(_format(label, detail))

        # 2. the backward step, for the gradient arriving at each new state alone
        for j in range(len(hand_states)):
            cot = rng.standard_normal(hand_states[j].shape)
            dstates = tuple(cot if i == j else np.zeros_like(s) for i, s in enumerate(hand_states))
            dzx, dzh, dprev, *rest = code.step_backward(dstates, cache, W_h.data)
            kgrad = getattr(code, "kernel_grad")
            hand = {"input x": dzx @ W_x.data.T}
            hand.update({f"state {i}": d for i, d in enumerate(dprev)})
            hand["kernel"] = x.T @ dzx
            hand["recurrent_kernel"] = kgrad([cache], np.asarray(dzh)[None])
            if bias is not None:
                hand["bias"] = dzx.sum(axis=0)
            for (name, _), d in zip(weights[2 + (bias is not None):], rest[0] if rest else ()):
                hand[name] = d
            for name, _ in weights[2 + (bias is not None):]:
                hand.setdefault(name, None)

            # the engine's autodiff of call
            for w in cell.weights:
                w.grad = None
            xt = Tensor(x.copy(), requires_grad=True)
            st = [Tensor(s.copy(), requires_grad=True) for s in states]
            _, new = cell(xt, list(st), **kwargs)
            new = flatten(list(new)) if isinstance(new, (list, tuple)) else [new]
            (new[j] * cot).sum().backward()
            engine = {"input x": xt.grad}
            engine.update({f"state {i}": s.grad for i, s in enumerate(st)})
            engine.update({name: w.grad for name, w in weights})

            # finite differences of step_forward
            arrays = [x.copy()] + [s.copy() for s in states]

            def loss(x_value, *state_values):
                return float((forward(x_value, list(state_values))[0][j] * cot).sum())

            def loss_of_weight(value, w):
                saved = w.data.copy()
                w.data[...] = value
                try:
                    return loss(*arrays)
                finally:
                    w.data[...] = saved
            fd = dict(zip(["input x"] + [f"state {i}" for i in range(len(states))],
                          numerical_grad(loss, arrays)))
            for name, w in weights:
                fd[name] = numerical_grad(lambda value, w=w: loss_of_weight(value, w), [w.data])[0]

            for name in hand:
                got = hand[name]
                if got is None:
                    problems.append(f"gradient from new state {j}: {name}: step_backward returned "
                                    f"no gradient for it (a fourth item, one per step_weights)")
                    continue
                for ref_name, ref in (("autodiff of call", engine[name]), ("finite differences", fd[name])):
                    ref = np.zeros_like(got) if ref is None else ref
                    blocks = _blocks(name, got, ref, units if "kernel" in name or name == "bias"
                                     else None, rtol, atol)
                    for label, detail in blocks:
                        problems.append(_format(f"gradient from new state {j}, {ref_name}: "
                                                f"{label}", detail))
                    scale = np.maximum(np.maximum(np.abs(got), np.abs(ref)), 1e-8)
                    key = f"step {ref_name}"
                    worst[key] = max(worst.get(key, 0.0), float(np.max(np.abs(got - ref) / scale)))

        # 3. a short sequence through RNN: the hand-written BPTT loop against the engine's
        if not problems:
            xs = rng.standard_normal((B, timesteps, D))
            cots = [rng.standard_normal((B, timesteps, cell_output_size(cell)))] + \
                   [rng.standard_normal(s.shape) for s in states]
            results = []
            for unroll in (False, True):
                layer = RNN(cell, return_sequences=True, return_state=True, unroll=unroll,
                            dtype="float64")
                for w in cell.weights:
                    w.grad = None
                xt = Tensor(xs.copy(), requires_grad=True)
                st = [Tensor(s.copy(), requires_grad=True) for s in states]
                out = layer(xt, initial_state=list(st))
                outs = [out[0]] + flatten(out[1:])
                total = None
                for o, c in zip(outs, cots):
                    term = (o * c).sum()
                    total = term if total is None else total + term
                total.backward()
                results.append({"input x": xt.grad,
                                **{f"state {i}": s.grad for i, s in enumerate(st)},
                                **{name: w.grad for name, w in weights}})
            hand, engine = results
            for name in hand:
                got = np.zeros_like(engine[name]) if hand[name] is None else hand[name]
                ref = np.zeros_like(got) if engine[name] is None else engine[name]
                for label, detail in _blocks(name, got, ref, units if "kernel" in name or
                                             name == "bias" else None, rtol, atol):
                    problems.append(_format(f"sequence of {timesteps} steps through RNN: {label}",
                                            detail))
                scale = np.maximum(np.maximum(np.abs(got), np.abs(ref)), 1e-8)
                worst["sequence"] = max(worst.get("sequence", 0.0),
                                        float(np.max(np.abs(got - ref) / scale)))

    if problems:
        raise CellCheckError(f"check_cell: {type(cell).__name__} '{cell.name}' disagrees with its "
                             f"references in {len(problems)} place(s) (rtol {rtol}, atol "
                             f"{atol}):\n  " + "\n  ".join(problems))
    return worst
