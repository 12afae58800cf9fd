"""Model.summary's table: one row per layer (type), output shape and parameter count, then the
totals, laid out as Keras prints it."""
from ..layers.base import flatten

__all__ = ["print_summary"]


def print_summary(model, print_fn=print, line_length=80):
    """Keras's table: layer (type), output shape, parameter count; then the totals."""
    rows = _layer_rows(model)
    widths = (33, 26, line_length - 59)
    lines = [f'Model: "{model.name}"', "_" * line_length,
             _row(("Layer (type)", "Output Shape", "Param #"), widths), "=" * line_length]
    for i, row in enumerate(rows):
        lines.append(_row(row, widths))
        lines.append("=" * line_length if i == len(rows) - 1 else "_" * line_length)
    trainable = sum(w.size for w in model.trainable_weights)
    frozen = sum(w.size for w in model.non_trainable_weights)
    nbytes = lambda ws: sum(w.data.nbytes for w in ws)
    lines += [f"Total params: {trainable + frozen} ({_bytes(nbytes(model.weights))})",
              f"Trainable params: {trainable} ({_bytes(nbytes(model.trainable_weights))})",
              f"Non-trainable params: {frozen} ({_bytes(nbytes(model.non_trainable_weights))})",
              "_" * line_length]
    for line in lines:
        print_fn(line)


def _layer_rows(model):
    """One row per layer of `model.layers` (a functional model's InputLayers included, a
    Sequential's never), as Keras: a shared layer listed once, with the output shape of its latest
    call; a layer never called shows "?", one never built "0 (unbuilt)"."""
    layers = model.operations if hasattr(model, "operations") else model._layers
    # an op node shows the class Keras gives its operation (OneHot, GetItem, ...)
    return [(f"{l.name} ({getattr(l, 'keras_class_name', type(l).__name__)})", _output_shape(l),
             l.count_params() if l.built else "0 (unbuilt)") for l in layers]


def _output_shape(layer):
    calls = layer._inbound_records
    if not calls:
        return "?"
    shapes = [tuple(o.shape) for o in flatten(calls[-1].outputs)]
    return str(shapes[0] if len(shapes) == 1 else shapes)


def _row(cells, widths):
    return "".join(f" {str(c):<{w - 1}}" for c, w in zip(cells, widths)).rstrip()


def _bytes(n):
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}"
        n /= 1024.0
