"""Bidirectional LSTM on IMDB (fchollet), keras-io examples/nlp/bidirectional_lstm_imdb.py.

Port: keras.datasets.imdb.load_data is replaced by random lists of word indices of varying
lengths (400 training and 100 validation reviews); maxlen 200 -> 60, epochs 2 -> 1;
`from tensorflow.keras import layers` is written `layers = keras.layers`.
"""
from tensorflow import keras
import numpy as np

layers = keras.layers

max_features = 20000  # Only consider the top 20k words
maxlen = 60  # Only consider the first 60 words of each movie review

# Input for variable-length sequences of integers
inputs = keras.Input(shape=(None,), dtype="int32")
# Embed each integer in a 128-dimensional vector
x = layers.Embedding(max_features, 128)(inputs)
# Add 2 bidirectional LSTMs
x = layers.Bidirectional(layers.LSTM(64, return_sequences=True))(x)
x = layers.Bidirectional(layers.LSTM(64))(x)
# Add a classifier
outputs = layers.Dense(1, activation="sigmoid")(x)
model = keras.Model(inputs, outputs)
model.summary()


def load_data(num_words, rng, count):
    """Reviews as lists of word indices (1 = start, 2 = out of vocabulary), labels 0/1."""
    reviews = [[1] + list(rng.integers(2, num_words, size=rng.integers(10, 120)))
               for _ in range(count)]
    return np.array(reviews, dtype=object), rng.integers(0, 2, size=count)


rng = np.random.default_rng(0)
(x_train, y_train), (x_val, y_val) = (load_data(max_features, rng, 400),
                                      load_data(max_features, rng, 100))
print(len(x_train), "Training sequences")
print(len(x_val), "Validation sequences")
# Use pad_sequence to standardize sequence length:
# this will truncate sequences longer than maxlen words and zero-pad shorter ones.
x_train = keras.preprocessing.sequence.pad_sequences(x_train, maxlen=maxlen)
x_val = keras.preprocessing.sequence.pad_sequences(x_val, maxlen=maxlen)

model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=32, epochs=1, validation_data=(x_val, y_val))
