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
    if model._records is None:
        if not model.built:
            raise ValueError(f"model '{model.name}' has not been built yet: call it on data "
                             f"(or give the first layer an input shape) before summary()")
        return [(f"{l.name} ({type(l).__name__})", "?", l.count_params()) for l in model._layers]
    rows = {}  # one row per layer, as Keras: a shared layer is listed (and counted) once,
    for record in model._records:  # with the output shape of its last call
        shapes = [tuple(o.shape) for o in flatten(record.outputs)]
        shape = shapes[0] if len(shapes) == 1 else shapes
        rows.setdefault(id(record.layer), [f"{record.layer.name} ({type(record.layer).__name__})",
                                           None, record.layer.count_params()])[1] = str(shape)
    return [tuple(row) for row in rows.values()]


def _row(cells, widths):
    return "".join(f" {str(c):<{w - 1}}" for c, w in zip(cells, widths)).rstrip()


def _bytes(n):
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}"
        n /= 1024.0
