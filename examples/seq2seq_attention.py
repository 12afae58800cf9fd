"""Sequence to sequence with attention: an LSTM encoder-decoder learns to reverse digit strings.

    python examples/seq2seq_attention.py [--epochs 12] [--samples 12000] [--plot attention.png]

Training uses teacher forcing (the decoder reads the true previous digit); testing decodes greedily,
one step at a time with `LSTM.step` and explicit states, feeding back its own predictions. The same
model without attention is trained beside it. Prints exact-sequence accuracy on held-out strings of
length 5-12 and, with --plot and matplotlib, saves the attention map of one example.
"""
import argparse
import time

import numpy as np

import minirnn
from minirnn import ops
from minirnn.layers import LSTM, Attention, Concatenate, Dense, Embedding
from minirnn.losses import SparseCategoricalCrossentropy
from minirnn.models import Input, Model

PAD, GO, EOS = 0, 11, 12          # digits d are tokens d + 1
VOCAB, MAX_LEN = 13, 12


def make_data(samples, rng, min_len=5, max_len=MAX_LEN):
    """src: the digits; decoder input: GO + reversed digits; target: reversed digits + EOS."""
    src = np.zeros((samples, max_len), "int64")
    dec_in = np.zeros((samples, max_len + 1), "int64")
    target = np.zeros((samples, max_len + 1), "int64")
    for i, n in enumerate(rng.integers(min_len, max_len + 1, samples)):
        digits = rng.integers(0, 10, n) + 1
        src[i, :n] = digits
        dec_in[i, 0], dec_in[i, 1:n + 1] = GO, digits[::-1]
        target[i, :n], target[i, n] = digits[::-1], EOS
    return src, dec_in, target


class Seq2Seq:
    """The layers of one encoder-decoder, wired for training (teacher forcing) and for decoding."""

    def __init__(self, units, attention):
        self.src_embed = Embedding(VOCAB, 32, mask_zero=True)
        self.encoder = LSTM(units, return_sequences=True, return_state=True)
        self.tgt_embed = Embedding(VOCAB, 32, mask_zero=True)
        self.decoder = LSTM(units, return_sequences=True, return_state=True)
        self.attention = Attention() if attention else None
        self.combine = Dense(units, activation="tanh")
        self.readout = Dense(VOCAB)
        src, dec_in = Input((MAX_LEN,), dtype="int64"), Input((MAX_LEN + 1,), dtype="int64")
        enc_seq, h, c = self.encoder(self.src_embed(src))
        dec_seq, _, _ = self.decoder(self.tgt_embed(dec_in), initial_state=[h, c])
        self.model = Model([src, dec_in], self.readout(self._mix(dec_seq, enc_seq)))

    def _mix(self, dec_seq, enc_seq, value_mask=None):
        if self.attention is None:
            return self.combine(dec_seq)
        if value_mask is None:
            context = self.attention([dec_seq, enc_seq])
        else:
            context = self.attention([dec_seq, enc_seq], mask=[None, value_mask])
        return self.combine(Concatenate()([dec_seq, context]))

    def decode(self, src, return_attention=False):
        """Greedy decoding, one step at a time; returns (batch, MAX_LEN + 1) token ids."""
        with minirnn.no_grad():
            src_mask = src != PAD
            enc_seq, h, c = self.encoder(self.src_embed(src))
            states, token = [h, c], np.full(len(src), GO)
            outputs, maps = [], []
            for _ in range(MAX_LEN + 1):
                out, states = self.decoder.step(self.tgt_embed(token[:, None])[:, 0], states)
                query = ops.expand_dims(out, 1)
                if self.attention is not None and return_attention:
                    _, scores = self.attention([query, enc_seq], mask=[None, src_mask],
                                               return_attention_scores=True)
                    maps.append(scores.data[:, 0])
                logits = self.readout(self._mix(query, enc_seq, src_mask))
                token = logits.data[:, 0].argmax(axis=-1)
                outputs.append(token)
        tokens = np.stack(outputs, axis=1)
        return (tokens, np.stack(maps, axis=1)) if return_attention else tokens


def exact_accuracy(predicted, target):
    """Share of sequences whose tokens up to and including EOS are all right."""
    correct = [np.array_equal(p[:list(t).index(EOS) + 1], t[:list(t).index(EOS) + 1])
               for p, t in zip(predicted, target)]
    return float(np.mean(correct))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=12000)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default=None, help="PNG file for one example's attention map")
    parser.add_argument("--verbose", type=int, default=2)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    src, dec_in, target = make_data(args.samples, rng)
    test_src, _, test_target = make_data(1000, rng)
    results = {}
    for name, attention in (("with attention", True), ("without attention", False)):
        minirnn.set_random_seed(args.seed)
        net = Seq2Seq(args.units, attention)
        net.model.compile(optimizer=minirnn.optimizers.Adam(learning_rate=0.005),
                          loss=SparseCategoricalCrossentropy(from_logits=True))
        print(f"--- {name}")
        started = time.perf_counter()
        net.model.fit([src, dec_in], target, batch_size=64, epochs=args.epochs, verbose=args.verbose)
        accuracy = exact_accuracy(net.decode(test_src), test_target)
        results[name] = accuracy
        print(f"{name}: exact-sequence accuracy {accuracy:.1%} on 1000 held-out strings "
              f"({time.perf_counter() - started:.0f} s)")
        if attention:
            tokens, maps = net.decode(test_src[:1], return_attention=True)
            n = int((test_src[0] != PAD).sum())
            print(f"example: {''.join(str(d - 1) for d in test_src[0, :n])} -> "
                  f"{''.join(str(d - 1) for d in tokens[0, :n])}")
            if args.plot:
                _plot(maps[0, :n + 1, :n], test_src[0, :n], tokens[0, :n + 1], args.plot)
    print("\n" + "\n".join(f"{name:18s} {acc:.1%}" for name, acc in results.items()))
    return results


def _plot(weights, src, out, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: pip install 'minirnn[plot]' to draw the attention map")
        return
    label = lambda t: "<eos>" if t == EOS else str(t - 1)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.imshow(weights, cmap="viridis")
    ax.set_xticks(range(len(src)), [label(t) for t in src])
    ax.set_yticks(range(len(out)), [label(t) for t in out])
    ax.set_xlabel("input digit")
    ax.set_ylabel("output digit")
    ax.set_title("attention weights")
    fig.tight_layout()
    fig.savefig(path)
    print(f"attention map written to {path}")


if __name__ == "__main__":
    main()
