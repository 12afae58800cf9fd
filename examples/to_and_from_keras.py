"""Train in minirnn, save Keras 3's .keras file, and (with TensorFlow installed) load it in Keras.

    python examples/to_and_from_keras.py [--epochs 5] [--out model.keras]

The model learns to tell whether a padded sequence of digits sums to more than its length times
4.5 (an Embedding with mask_zero, a GRU and a Dense). It is saved with model.save("....keras"),
which Keras's keras.saving.load_model reads; the example then loads it back in minirnn too, and
prints the largest difference between the predictions. Needs h5py (pip install "minirnn[h5]");
without TensorFlow only the minirnn round trip runs.
"""
import argparse
import os
import tempfile

import numpy as np

import minirnn
from minirnn import layers

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # exact float results from TensorFlow
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

T, DIGITS = 8, 10


def make_data(n, rng):
    x = rng.integers(1, DIGITS, size=(n, T))
    lengths = rng.integers(3, T + 1, size=n)
    x[np.arange(T)[None, :] >= lengths[:, None]] = 0  # 0 pads, and the mask hides it
    y = ((x - 1).clip(0).sum(axis=1) > 4.0 * lengths).astype("float32")[:, None]
    return x.astype("int32"), y


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--out", default=None, help="where to write the .keras file")
    args = parser.parse_args(argv)
    minirnn.random.set_random_seed(0)
    rng = np.random.default_rng(0)
    x, y = make_data(args.samples, rng)

    model = minirnn.Sequential([minirnn.Input((T,), dtype="int32"),
                                layers.Embedding(DIGITS, 8, mask_zero=True),
                                layers.GRU(16), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=args.epochs, batch_size=64, verbose=0)
    print(f"minirnn: trained {args.epochs} epochs, accuracy {model.evaluate(x, y, verbose=0)[1]:.3f}")

    directory = None if args.out else tempfile.TemporaryDirectory()
    path = args.out or os.path.join(directory.name, "model.keras")
    model.save(path)  # Keras 3's zip: config.json, metadata.json, model.weights.h5
    ours = model.predict(x)
    back = minirnn.load_model(path)
    differences = {"minirnn": float(np.abs(back.predict(x) - ours).max())}
    print(f"minirnn.load_model({os.path.basename(path)!r}): largest difference "
          f"{differences['minirnn']:.2e}")
    try:
        import keras
    except ImportError:
        print("TensorFlow is not installed: pip install tensorflow-cpu to load the file in Keras")
    else:
        theirs = keras.saving.load_model(path)
        differences["keras"] = float(np.abs(theirs.predict(x, verbose=0) - ours).max())
        print(f"keras.saving.load_model: {type(theirs.optimizer).__name__} optimizer, largest "
              f"difference from minirnn's predictions {differences['keras']:.2e}")
    if directory is not None:
        directory.cleanup()
    return differences


if __name__ == "__main__":
    main()
