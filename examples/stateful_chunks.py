"""Training on one long sequence in chunks: a stateful LSTM with truncated BPTT.

A sequence far too long for one pass is cut into consecutive chunks. With `stateful=True` the
layer starts each chunk from the state the previous chunk ended in, so information flows forward
across the whole sequence, while gradients flow back only within a chunk (truncated BPTT).
`truncate_bptt=k` truncates further, inside a chunk. The task: predict the next value of a
signal whose frequency switches at random moments, which can only be read from the past.

    python examples/stateful_chunks.py [--length 20000] [--chunk 50] [--epochs 4]
"""
import argparse

import numpy as np

import minirnn
from minirnn.layers import LSTM, Dense
from minirnn.models import Input, Sequential


def make_signal(length, streams, rng):
    """(streams, length) sines whose frequency jumps between two values every ~200 steps."""
    freq = np.where(np.cumsum(rng.random((streams, length)) < 1 / 200, axis=1) % 2, 0.3, 0.1)
    return np.sin(np.cumsum(freq, axis=1)).astype("float32")


def train(stateful, signal, chunk, epochs, units, truncate):
    streams, length = signal.shape
    minirnn.set_random_seed(0)
    model = Sequential([Input(batch_shape=(streams, chunk, 1)),
                        LSTM(units, stateful=stateful, return_sequences=True, truncate_bptt=truncate),
                        Dense(1)])
    model.compile(optimizer=minirnn.optimizers.Adam(learning_rate=0.01), loss="mse")
    x, y = signal[:, :-1, None], signal[:, 1:, None]
    for epoch in range(epochs):
        model.reset_states()                        # a new pass over the sequence starts afresh
        losses = [model.train_on_batch(x[:, s:s + chunk], y[:, s:s + chunk])
                  for s in range(0, length - 1 - chunk + 1, chunk)]
        print(f"  epoch {epoch + 1}: mean loss {np.mean(losses):.4f}, last chunks {np.mean(losses[-20:]):.4f}")
    return float(np.mean(losses[-20:]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=20000)
    parser.add_argument("--streams", type=int, default=8, help="independent sequences (the batch)")
    parser.add_argument("--chunk", type=int, default=50)
    parser.add_argument("--truncate", type=int, default=None, help="truncate_bptt inside a chunk")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--units", type=int, default=16)
    args = parser.parse_args(argv)
    signal = make_signal(args.length, args.streams, np.random.default_rng(0))
    results = {}
    for stateful in (True, False):
        print(f"{'stateful' if stateful else 'stateless'} LSTM, chunks of {args.chunk} steps:")
        results[stateful] = train(stateful, signal, args.chunk, args.epochs, args.units, args.truncate)
    print(f"\nfinal loss: stateful {results[True]:.4f}, stateless {results[False]:.4f} "
          f"(each chunk of the stateless model starts from zeros and must guess the frequency)")
    return results


if __name__ == "__main__":
    main()
