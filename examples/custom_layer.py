"""Write your own recurrent layer, as in Keras: subclass Layer, loop over time in `call`.

The engine differentiates the Python loop (BPTT derived automatically), `fit` trains it, and
`check_grads` confirms its gradients against finite differences.

    python examples/custom_layer.py
"""
import numpy as np

import minirnn
from minirnn import ops
from minirnn.layers import Dense, Layer
from minirnn.models import Input, Sequential


class MyRNN(Layer):
    """h_t = tanh(x_t W_x + h_{t-1} W_h + b); returns every h_t, (batch, timesteps, units)."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.W_x = self.add_weight((input_shape[-1], self.units), "glorot_uniform", name="W_x")
        self.W_h = self.add_weight((self.units, self.units), "orthogonal", name="W_h")
        self.b = self.add_weight((self.units,), "zeros", name="b")

    def call(self, x):
        h = np.zeros((x.shape[0], self.units), dtype=self.dtype)
        states = []
        for t in range(x.shape[1]):
            h = ops.tanh(x[:, t] @ self.W_x + h @ self.W_h + self.b)
            states.append(h)
        return ops.stack(states, axis=1)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def main(epochs=30):
    # the task: output the running mean of the inputs seen so far
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (1000, 8, 1)).astype("float32")
    y = np.cumsum(x, axis=1) / np.arange(1, 9).reshape(1, -1, 1)

    minirnn.set_random_seed(0)
    model = Sequential([Input((8, 1)), MyRNN(16), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(x, y, batch_size=32, epochs=epochs, verbose=0)
    losses = history.history["loss"]
    print(f"training loss: epoch 1 {losses[0]:.4f} -> epoch {len(losses)} {losses[-1]:.4f}")

    minirnn.set_floatx("float64")  # gradient checks run in float64
    try:
        layer = MyRNN(3)
        layer.build((None, 4, 2))
        worst = minirnn.check_grads(layer, rng.standard_normal((2, 4, 2)), params=layer.weights)
    finally:
        minirnn.set_floatx("float32")
    print(f"check_grads: max relative error against finite differences {worst:.1e}")
    return losses, worst


if __name__ == "__main__":
    main()
