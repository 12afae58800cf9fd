"""A recurrent net learns to add: the input is a sequence of numbers, the target their sum.

    python examples/addition.py [--epochs 20] [--samples 4000] [--timesteps 10]

Sequential + LSTM + Dense, Adam, MSE, fit and predict: a Keras script with minirnn's imports.
"""
import argparse

import numpy as np

import minirnn
from minirnn.layers import LSTM, Dense
from minirnn.models import Input, Sequential


def make_data(samples, timesteps, rng):
    x = rng.uniform(0.0, 1.0, size=(samples, timesteps, 1)).astype("float32")
    return x, x.sum(axis=(1, 2)).reshape(-1, 1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--samples", type=int, default=4000)
    parser.add_argument("--timesteps", type=int, default=10)
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=2)
    args = parser.parse_args(argv)

    minirnn.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    x_train, y_train = make_data(args.samples, args.timesteps, rng)
    x_test, y_test = make_data(200, args.timesteps, rng)

    model = Sequential([Input((args.timesteps, 1)), LSTM(args.units), Dense(1)])
    model.compile(optimizer=minirnn.optimizers.Adam(learning_rate=0.005), loss="mse", metrics=["mae"])
    model.summary()
    model.fit(x_train, y_train, batch_size=32, epochs=args.epochs, validation_split=0.1,
              verbose=args.verbose)

    predicted = model.predict(x_test)
    relative = np.abs(predicted - y_test) / y_test
    for seq, target, guess in list(zip(x_test[:, :, 0], y_test[:, 0], predicted[:, 0]))[:5]:
        print(f"{' + '.join(f'{v:.2f}' for v in seq[:4])} + ... = {target:.3f}   predicted {guess:.3f}")
    print(f"test MSE {float(np.mean((predicted - y_test) ** 2)):.5f}")
    print(f"mean relative error {relative.mean():.2%}; worst {relative.max():.2%}")
    print(f"predictions within 5% of the true sum: {np.mean(relative < 0.05):.1%}")
    return relative


if __name__ == "__main__":
    main()
