"""The recurrent layers' BPTT option table and a runner, shared by test_bptt_options and
test_reference_bptt: every cell, every option, outputs and gradients of one seeded layer."""
import numpy as np

import minirnn
from minirnn.layers import GRU, LSTM, SimpleRNN

CELLS = {"simple_rnn": (SimpleRNN, {}), "lstm": (LSTM, {}), "gru": (GRU, {}),
         "gru_reset_before": (GRU, {"reset_after": False})}
OPTIONS = {"plain": {}, "go_backwards": {"go_backwards": True}, "mask": {"mask": True},
           "dropout": {"dropout": 0.3, "recurrent_dropout": 0.3}}


def make_layer(cls, weight_seed, **kwargs):
    """A layer of 3 units with seeded weights (and dropout seed, unless kwargs give `seed`);
    sequences and states returned unless kwargs say otherwise."""
    return cls(3, **{"return_sequences": True, "return_state": True, "seed": weight_seed,
                     "bias_initializer": minirnn.initializers.RandomNormal(seed=weight_seed),
                     "kernel_initializer": minirnn.initializers.GlorotUniform(seed=weight_seed + 1),
                     "recurrent_initializer": minirnn.initializers.Orthogonal(seed=weight_seed + 2),
                     **kwargs})


def run(cls, kwargs, x, h0, seed, mask=None, training=False, **layer_kwargs):
    """Outputs and gradients (inputs, initial states, weights) of one seeded layer, and its
    bptt_gradients last."""
    minirnn.set_random_seed(seed)
    layer = make_layer(cls, seed, **kwargs, **layer_kwargs)
    xt = minirnn.tensor(x, requires_grad=True)
    states = [minirnn.tensor(h, requires_grad=True) for h in h0[:layer.n_states]]
    outs = layer(xt, initial_state=states, mask=mask, training=training)
    outs = outs if isinstance(outs, list) else [outs]
    rng = np.random.default_rng(seed + 3)
    sum((o * rng.standard_normal(o.shape)).sum() for o in outs).backward()
    return [o.data for o in outs] + [xt.grad] + [s.grad for s in states] + \
        [w.grad for w in layer.weights] + [layer.bptt_gradients]


def inputs(seed, batch=2, timesteps=7):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, timesteps, 2))
    h0 = [rng.standard_normal((batch, 3)) for _ in range(2)]
    mask = rng.random((batch, timesteps)) > 0.3
    return x, h0, mask


def option_kwargs(option):
    """(layer kwargs, whether a time mask is used, training) of an OPTIONS entry."""
    opts = dict(OPTIONS[option])
    use_mask = opts.pop("mask", False)
    return opts, use_mask, bool(opts.get("dropout"))


def assert_all_close(got, want, rtol):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=1e-13)
