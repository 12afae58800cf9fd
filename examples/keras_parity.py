"""The same model in Keras and in minirnn, with the same weights: outputs and gradients compared.

    python examples/keras_parity.py [--cell lstm|gru|simple_rnn] [--float64]

Needs TensorFlow (pip install tensorflow-cpu); without it, says so and exits.
"""
import argparse
import os

import numpy as np

import minirnn
from minirnn import layers

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # exact float results from TensorFlow
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

CELLS = {"lstm": "LSTM", "gru": "GRU", "simple_rnn": "SimpleRNN"}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cell", choices=sorted(CELLS), default="lstm")
    parser.add_argument("--float64", action="store_true")
    parser.add_argument("--units", type=int, default=16)
    args = parser.parse_args(argv)
    try:
        import keras
        import tensorflow as tf
    except ImportError:
        print("TensorFlow is not installed: pip install tensorflow-cpu to compare with Keras")
        return None
    dtype = "float64" if args.float64 else "float32"
    minirnn.set_floatx(dtype)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 12, 3)).astype(dtype)
    upstream = rng.standard_normal((4, 1)).astype(dtype)

    name = CELLS[args.cell]
    k_model = keras.Sequential([keras.Input((12, 3), dtype=dtype),
                                getattr(keras.layers, name)(args.units, dtype=dtype),
                                keras.layers.Dense(1, dtype=dtype)])
    m_model = minirnn.Sequential([minirnn.Input((12, 3)), getattr(layers, name)(args.units),
                                  layers.Dense(1)])
    m_model.set_weights(k_model.get_weights())  # Keras's layout and gate order, no conversion

    x_tf = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x_tf)
        k_out = k_model(x_tf)
        k_loss = tf.reduce_sum(k_out * upstream)
    k_grads = tape.gradient(k_loss, [x_tf] + k_model.trainable_weights)

    x_m = minirnn.tensor(x, requires_grad=True)
    m_out = m_model(x_m)
    (m_out * upstream).sum().backward()
    m_grads = [x_m.grad] + [w.grad for w in m_model.trainable_weights]

    def rel(a, b):
        return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))
    print(f"{name}({args.units}) -> Dense(1), {dtype}, input {x.shape}")
    print(f"outputs: max |minirnn - keras| = {np.max(np.abs(m_out.data - k_out.numpy())):.2e}")
    names = ["input"] + [w.name for w in m_model.trainable_weights]
    worst = rel(m_out.data, k_out.numpy())
    for label, a, b in zip(names, m_grads, k_grads):
        err = rel(a, b.numpy())
        worst = max(worst, err)
        print(f"d loss / d {label:28s} max relative difference {err:.2e}")
    minirnn.set_floatx("float32")
    return worst


if __name__ == "__main__":
    main()
