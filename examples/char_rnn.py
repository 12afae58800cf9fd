"""A character-level LSTM language model that samples text as it trains.

    python examples/char_rnn.py [FILE] [--epochs 20] [--seq-length 40]

With no FILE it trains on text every Python installation carries (The Zen of Python and the
docstrings of a few standard-library modules), so it runs offline.
"""
import argparse
import codecs

import numpy as np

import minirnn
from minirnn.callbacks import LambdaCallback
from minirnn.layers import LSTM, Dense, Embedding
from minirnn.models import Input, Sequential


def default_text():
    import this  # noqa: F401  (importing prints the Zen; its text is stored rot13-encoded)
    import collections, json, textwrap, argparse as ap
    parts = [codecs.decode(this.s, "rot13")]
    parts += [m.__doc__ for m in (collections, json, textwrap, ap) if m.__doc__]
    return "\n".join(parts)


def sample(model, seed_text, chars, index, length, temperature, rng):
    """Extend seed_text one character at a time, drawing from the softmax at `temperature`."""
    ids = [index[c] for c in seed_text]
    window = len(seed_text)
    for _ in range(length):
        logits = model.predict(np.array([ids[-window:]]))[0]
        p = np.exp((logits - logits.max()) / temperature)
        ids.append(int(rng.choice(len(chars), p=p / p.sum())))
    return "".join(chars[i] for i in ids[window:])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", help="a UTF-8 text file (default: built-in text)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seq-length", type=int, default=40)
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--max-chars", type=int, default=30000)
    parser.add_argument("--sample-length", type=int, default=120)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=2)
    args = parser.parse_args(argv)

    if args.file:
        with open(args.file, encoding="utf-8") as f:
            text = f.read()
    else:
        import contextlib, io
        with contextlib.redirect_stdout(io.StringIO()):
            text = default_text()
    text = text[: args.max_chars]
    if len(text) <= args.seq_length + 1:
        raise SystemExit(f"the text has {len(text)} characters; need more than {args.seq_length + 1}")
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    encoded = np.array([index[c] for c in text])
    starts = np.arange(0, len(encoded) - args.seq_length, 3)
    x = np.stack([encoded[s:s + args.seq_length] for s in starts])
    y = encoded[starts + args.seq_length]
    print(f"{len(text)} characters, {len(chars)} distinct, {len(x)} training windows")

    minirnn.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model = Sequential([Input((args.seq_length,), dtype="int64"), Embedding(len(chars), 32),
                        LSTM(args.units), Dense(len(chars))])
    model.compile(optimizer=minirnn.optimizers.Adam(learning_rate=0.005),
                  loss=minirnn.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])

    def show_sample(epoch, logs):
        if (epoch + 1) % max(1, args.epochs // 4) == 0 or epoch + 1 == args.epochs:
            start = int(rng.integers(0, len(text) - args.seq_length))
            seed_text = text[start:start + args.seq_length]
            generated = sample(model, seed_text, chars, index, args.sample_length, 0.5, rng)
            print(f"--- epoch {epoch + 1}, sample after {seed_text[-20:]!r}:\n{generated}\n")

    history = model.fit(x, y, batch_size=64, epochs=args.epochs, verbose=args.verbose,
                        callbacks=[LambdaCallback(on_epoch_end=show_sample)])
    return history


if __name__ == "__main__":
    main()
