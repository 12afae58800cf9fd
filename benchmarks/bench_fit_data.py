#!/usr/bin/env python
"""What fit costs when its data comes as a PyDataset or a generator instead of arrays.

    python benchmarks/bench_fit_data.py                  # LSTM(32), B=32, T=20, D=8, 64 batches
    python benchmarks/bench_fit_data.py --repeats 9 --units 64 --json fitdata.json

The same model (same initial weights), the same samples in the same order (shuffle=False) and
the same batches, three ways: arrays (x, y) sliced by fit, a PyDataset returning batch i, and a
generator yielding the batches (a fresh one each epoch). Each repeat times one epoch of each,
round-robin after a warm-up epoch, so drifts of the machine touch all three alike; the table
gives the median and best ms per epoch and each source's median over the arrays' (the batches
of the other two are checked one by one, which must stay within a few per cent).
"""
import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import threadenv  # noqa: E402  (standard library only)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=2048)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--timesteps", type=int, default=20)
    ap.add_argument("--features", type=int, default=8)
    ap.add_argument("--units", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", help="also write the figures to this file")
    return ap.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    threadenv.set_thread_env(args.threads)
    threadenv.repo_root()
    import numpy as np
    import minirnn
    from minirnn import Input, Sequential, layers

    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.samples, args.timesteps, args.features)).astype("float32")
    y = np.tanh(x.sum(axis=(1, 2)))[:, None].astype("float32")
    size = args.batch

    class Batches:  # Keras's PyDataset protocol
        def __len__(self):
            return -(-len(x) // size)

        def __getitem__(self, i):
            return x[i * size:(i + 1) * size], y[i * size:(i + 1) * size]

        def on_epoch_end(self):
            pass

    def generator():
        for start in range(0, len(x), size):
            yield x[start:start + size], y[start:start + size]

    sources = {
        "arrays": lambda model: model.fit(x, y, batch_size=size, epochs=1, shuffle=False,
                                          verbose=0),
        "PyDataset": lambda model: model.fit(Batches(), epochs=1, shuffle=False, verbose=0),
        "generator": lambda model: model.fit(generator(), epochs=1, verbose=0),
    }
    minirnn.set_random_seed(0)
    models = {name: Sequential([Input((args.timesteps, args.features)),
                                layers.LSTM(args.units), layers.Dense(1)]) for name in sources}
    start_weights = models["arrays"].get_weights()
    for name, model in models.items():
        model.set_weights(start_weights)
        model.compile(optimizer="adam", loss="mse")
        sources[name](model)  # warm-up epoch
    times = {name: [] for name in sources}
    for _ in range(args.repeats):
        for name, fit in sources.items():
            began = time.perf_counter()
            fit(models[name])
            times[name].append((time.perf_counter() - began) * 1e3)
    # the three trained alike: the same steps on the same batches
    for name, model in models.items():
        for a, b in zip(model.get_weights(), models["arrays"].get_weights()):
            np.testing.assert_array_equal(a, b, err_msg=f"{name} trained differently")

    base = statistics.median(times["arrays"])
    steps = -(-args.samples // size)
    print(f"fit, one epoch: LSTM({args.units}), B={size}, T={args.timesteps}, "
          f"D={args.features}, {steps} batches, {args.repeats} repeats, {args.threads} thread(s)")
    print(f"{'source':<10} {'median ms':>10} {'best ms':>9} {'ms/step':>8} {'vs arrays':>10}")
    rows = []
    for name, values in times.items():
        median = statistics.median(values)
        rows.append({"source": name, "median_ms": median, "best_ms": min(values),
                     "ms_per_step": median / steps, "ratio": median / base})
        print(f"{name:<10} {median:>10.1f} {min(values):>9.1f} {median / steps:>8.3f} "
              f"{median / base:>10.3f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
