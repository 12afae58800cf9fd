"""A Keras script of the usual kind runs on minirnn with only its import changed.

The script below pads sequences with `keras.utils.pad_sequences`, masks them with
`Embedding(mask_zero=True)`, reads them with a `Bidirectional(LSTM)`, and trains with
`class_weight`, `EarlyStopping`, `ReduceLROnPlateau` and `CSVLogger`. It is run as written with
real Keras and with `import keras` replaced by `import minirnn as keras`, each in its own process.
"""
import csv
import os
import subprocess
import sys

import pytest

from tf_helpers import import_tf

SCRIPT = '''
import sys
import numpy as np
import keras

keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
vocab, maxlen = 50, 12
sequences = [list(rng.integers(1, vocab, rng.integers(3, 16))) for _ in range(96)]
labels = np.array([int(sum(s) % 3 == 0) for s in sequences])
x = keras.utils.pad_sequences(sequences, maxlen=maxlen)
assert x.dtype == np.int32 and x.shape == (96, maxlen)

model = keras.Sequential([
    keras.Input(shape=(maxlen,), dtype="int32"),
    keras.layers.Embedding(vocab, 8, mask_zero=True),
    keras.layers.Bidirectional(keras.layers.LSTM(6)),
    keras.layers.Dense(1, activation="sigmoid"),
])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
callbacks = [
    keras.callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True),
    keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1),
    keras.callbacks.CSVLogger(sys.argv[1]),
]
history = model.fit(x, labels, epochs=4, batch_size=16, validation_split=0.25,
                    class_weight={0: 1.0, 1: 2.0}, callbacks=callbacks, verbose=2)
print("keys", sorted(history.history))
print("predictions", model.predict(x[:4], verbose=0).shape)
'''


def run(script_text, tmp_path, name):
    path = tmp_path / f"{name}.py"
    path.write_text(script_text)
    log = tmp_path / f"{name}.csv"
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "0", "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONPATH": os.pathsep.join(filter(None, [os.path.dirname(os.path.dirname(
               os.path.abspath(__file__))), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, str(path), str(log)], capture_output=True, text=True,
                          timeout=300, env=env)
    return proc, log


@pytest.mark.tf
def test_the_script_runs_on_keras_and_on_minirnn_with_only_the_import_changed(tmp_path):
    import_tf()  # skips, or fails under CI=true, when TensorFlow is missing
    theirs, their_log = run(SCRIPT, tmp_path, "with_keras")
    assert theirs.returncode == 0, theirs.stderr[-3000:]
    ported = SCRIPT.replace("\nimport keras\n", "\nimport minirnn as keras\n")
    assert ported.count("minirnn") == 1
    ours, our_log = run(ported, tmp_path, "with_minirnn")
    assert ours.returncode == 0, ours.stderr[-3000:]
    for proc in (theirs, ours):
        assert "predictions (4, 1)" in proc.stdout
    # the same history keys (the learning rate logged by ReduceLROnPlateau included) and the
    # same CSV columns
    key_line = [line for line in theirs.stdout.splitlines() if line.startswith("keys")]
    assert key_line and key_line == [l for l in ours.stdout.splitlines() if l.startswith("keys")]
    with open(their_log) as a, open(our_log) as b:
        assert next(csv.reader(a)) == next(csv.reader(b))
