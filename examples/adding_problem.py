"""The adding problem (Hochreiter & Schmidhuber, 1997): LSTM against SimpleRNN.

Each input step carries a random value in [0, 1] and a marker; exactly two steps are marked, one
in each half of the sequence. The target is the sum of the two marked values. Always answering 1
scores an MSE of 1/6 = 0.167: a net beats that only by carrying information across the sequence.

    python examples/adding_problem.py [--timesteps 40] [--epochs 20] [--plot gradients.png]

Prints the test MSE of both nets against the 0.167 baseline and the gradient norm dL/dh_t that
BPTT delivers to each timestep (the vanishing gradient, visible); draws it with --plot when
matplotlib is installed.
"""
import argparse

import numpy as np

import minirnn
from minirnn.layers import LSTM, Dense, SimpleRNN
from minirnn.models import Input, Sequential

BASELINE_MSE = 1.0 / 6.0


def make_data(samples, timesteps, rng):
    values = rng.uniform(0.0, 1.0, (samples, timesteps))
    markers = np.zeros((samples, timesteps))
    half = timesteps // 2
    first, second = rng.integers(0, half, samples), rng.integers(half, timesteps, samples)
    markers[np.arange(samples), first] = 1.0
    markers[np.arange(samples), second] = 1.0
    x = np.stack([values, markers], axis=-1).astype("float32")
    y = (values * markers).sum(axis=1, keepdims=True).astype("float32")
    return x, y


def gradient_norms(model, x, y):
    """Mean ||dL/dh_t|| per timestep of the model's recurrent layer on one batch."""
    for w in model.trainable_weights:
        w.grad = None
    loss = model._total_loss(y, model(x, training=False))
    loss.backward()
    return model.layers[0].bptt_gradient_norms


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=40)
    parser.add_argument("--samples", type=int, default=6000)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default=None, help="PNG file for the gradient-norm plot")
    parser.add_argument("--verbose", type=int, default=2)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    x, y = make_data(args.samples, args.timesteps, rng)
    x_test, y_test = make_data(1000, args.timesteps, rng)
    results, norms = {}, {}
    for name, cell in (("LSTM", LSTM), ("SimpleRNN", SimpleRNN)):
        minirnn.set_random_seed(args.seed)
        model = Sequential([Input((args.timesteps, 2)), cell(args.units), Dense(1)])
        model.compile(optimizer=minirnn.optimizers.Adam(learning_rate=0.005), loss="mse")
        print(f"--- {name}")
        model.fit(x, y, batch_size=64, epochs=args.epochs, verbose=args.verbose)
        results[name] = float(np.mean((model.predict(x_test, batch_size=256) - y_test) ** 2))
        norms[name] = gradient_norms(model, x_test[:256], y_test[:256])

    print(f"\nbaseline (always predict 1): test MSE {BASELINE_MSE:.4f}")
    for name, mse in results.items():
        print(f"{name:10s} test MSE {mse:.4f}  ({BASELINE_MSE / mse:.1f}x better than the baseline)")
    steps = np.unique(np.linspace(0, args.timesteps - 1, 6).astype(int))
    print("\n||dL/dh_t|| per timestep (t = " + ", ".join(map(str, steps)) + "):")
    for name, n in norms.items():
        print(f"{name:10s} " + "  ".join(f"{n[t]:.2e}" for t in steps))
    if args.plot:
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("matplotlib is not installed: pip install 'minirnn[plot]' to draw the plot")
        else:
            fig, ax = plt.subplots(figsize=(7, 4))
            for name, n in norms.items():
                ax.semilogy(np.arange(args.timesteps), n, label=name)
            ax.set_xlabel("timestep t")
            ax.set_ylabel("mean ||dL/dh_t||")
            ax.set_title("Gradient reaching each timestep (adding problem)")
            ax.legend()
            fig.tight_layout()
            fig.savefig(args.plot)
            print(f"gradient-norm plot written to {args.plot}")
    return results


if __name__ == "__main__":
    main()
