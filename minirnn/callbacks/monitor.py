"""Which way a monitored value improves."""
import numpy as np

__all__ = ["improvement_op"]


def improvement_op(mode, monitor, who):
    """np.less or np.greater: whether a new value of `monitor` is better than the best so far.
    mode "auto" guesses from the name, as minirnn always has: accuracies and AUCs grow."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{who} argument mode must be 'auto', 'min' or 'max'; got {mode!r}")
    if mode == "auto":
        mode = "max" if "acc" in monitor or monitor.endswith("auc") else "min"
    return np.less if mode == "min" else np.greater
