"""Training-step time of RNN over cells: RNN(LSTMCell(H)) against LSTM(H), and a cell of one's own
with a hand-written step_backward (examples/custom_cell.py's peephole LSTM) against the same cell
differentiated op by op by the engine.

One training step = forward, BPTT and an Adam update of RNN -> Dense(1) on an MSE loss, through
Model.train_on_batch. Prints the fastest of --repeats timed steps after --warmup untimed ones, the candidates
taking turns step by step.

    python benchmarks/bench_cells.py [--repeats 15]
"""
import argparse
import importlib.util
import pathlib
import time

import numpy as np

import minirnn
from minirnn import layers

CONFIGS = {"small": (32, 50, 16, 64), "long": (1, 1000, 8, 32)}   # B, T, D, H


def _example_cells():
    path = pathlib.Path(__file__).resolve().parent.parent / "examples" / "custom_cell.py"
    spec = importlib.util.spec_from_file_location("custom_cell_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.PeepholeLSTMCell, module.OpsOnlyPeepholeLSTMCell


def make_step(make_rnn, config, seed=0):
    """One training step of RNN -> Dense(1) as a function of nothing, built and warmed up."""
    B, T, D, H = config
    minirnn.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((B, T, D)).astype("float32")
    y = rng.standard_normal((B, 1)).astype("float32")
    model = minirnn.Sequential([minirnn.Input((T, D)), make_rnn(H), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    return lambda: model.train_on_batch(x, y)


def step_times(candidates, config, repeats, warmup):
    """The fastest of `repeats` timed steps of each candidate. The candidates take turns, step by
    step, so a burst of load from other processes falls on all of them alike."""
    steps = {label: make_step(make, config) for label, make in candidates.items()}
    for step in steps.values():
        for _ in range(warmup):
            step()
    times = {label: [] for label in steps}
    for _ in range(repeats):
        for label, step in steps.items():
            start = time.perf_counter()
            step()
            times[label].append(time.perf_counter() - start)
    return {label: min(t) for label, t in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--configs", default="small,long")
    args = parser.parse_args(argv)
    peephole, ops_only = _example_cells()
    candidates = {
        "LSTM(H)": lambda H: layers.LSTM(H),
        "RNN(LSTMCell(H))": lambda H: layers.RNN(layers.LSTMCell(H)),
        "peephole, own step_backward": lambda H: layers.RNN(peephole(H)),
        "peephole, op by op": lambda H: layers.RNN(ops_only(H)),
    }
    results = {}
    for name in args.configs.split(","):
        config = CONFIGS[name]
        row = step_times(candidates, config, args.repeats, args.warmup)
        results[name] = row
        print(f"{name} (B, T, D, H) = {config}")
        for label, seconds in row.items():
            print(f"  {label:30s} {1000 * seconds:9.2f} ms")
        print(f"  RNN(LSTMCell) / LSTM:          {row['RNN(LSTMCell(H))'] / row['LSTM(H)']:.2f}")
        print(f"  op by op / own step_backward:  "
              f"{row['peephole, op by op'] / row['peephole, own step_backward']:.2f}x")
    return results


if __name__ == "__main__":
    main()
