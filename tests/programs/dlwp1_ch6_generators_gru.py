"""Deep Learning with Python, 1st ed. (F. Chollet), section 6.3 "Advanced use of recurrent
neural networks": fchollet/deep-learning-with-python-notebooks
first_edition/6.3-advanced-usage-of-recurrent-neural-networks.ipynb — Python generators of
Jena-climate batches fed to GRU models (plain, with dropout/recurrent_dropout, stacked,
bidirectional).

Port: `fit_generator` (removed in Keras 3) is `fit`, which takes the same generator and
steps_per_epoch/validation_steps; `from keras import layers` / `from keras.optimizers import
RMSprop` are names taken from `keras`; the CSV download is replaced by a generated (6,000, 14)
float array; lookback 1440 -> 240, steps_per_epoch 500 -> 5, epochs 20/40 -> 2, the index
bounds scaled to the shorter series; the loss plots are left out.
"""
import keras
import numpy as np

Sequential = keras.models.Sequential
layers = keras.layers
RMSprop = keras.optimizers.RMSprop

# Stand-in for the parsed jena_climate_2009_2016.csv: float_data of shape (rows, 14).
rng = np.random.default_rng(0)
float_data = rng.normal(size=(6000, 14)).cumsum(axis=0) * 0.1

mean = float_data[:3000].mean(axis=0)
float_data -= mean
std = float_data[:3000].std(axis=0)
float_data /= std


def generator(data, lookback, delay, min_index, max_index,
              shuffle=False, batch_size=128, step=6):
    if max_index is None:
        max_index = len(data) - delay - 1
    i = min_index + lookback
    while 1:
        if shuffle:
            rows = np.random.randint(
                min_index + lookback, max_index, size=batch_size)
        else:
            if i + batch_size >= max_index:
                i = min_index + lookback
            rows = np.arange(i, min(i + batch_size, max_index))
            i += len(rows)

        samples = np.zeros((len(rows),
                           lookback // step,
                           data.shape[-1]))
        targets = np.zeros((len(rows),))
        for j, row in enumerate(rows):
            indices = range(rows[j] - lookback, rows[j], step)
            samples[j] = data[indices]
            targets[j] = data[rows[j] + delay][1]
        yield samples, targets


lookback = 240
step = 6
delay = 24
batch_size = 128

train_gen = generator(float_data,
                      lookback=lookback,
                      delay=delay,
                      min_index=0,
                      max_index=3000,
                      shuffle=True,
                      step=step,
                      batch_size=batch_size)
val_gen = generator(float_data,
                    lookback=lookback,
                    delay=delay,
                    min_index=3001,
                    max_index=4500,
                    step=step,
                    batch_size=batch_size)
test_gen = generator(float_data,
                     lookback=lookback,
                     delay=delay,
                     min_index=4501,
                     max_index=None,
                     step=step,
                     batch_size=batch_size)

# This is how many steps to draw from `val_gen`
# in order to see the whole validation set:
val_steps = (4500 - 3001 - lookback) // batch_size

# This is how many steps to draw from `test_gen`
# in order to see the whole test set:
test_steps = (len(float_data) - 4501 - lookback) // batch_size


def evaluate_naive_method():
    batch_maes = []
    for step in range(val_steps):
        samples, targets = next(val_gen)
        preds = samples[:, -1, 1]
        mae = np.mean(np.abs(preds - targets))
        batch_maes.append(mae)
    print(np.mean(batch_maes))


evaluate_naive_method()

# A basic machine-learning approach
model = Sequential()
model.add(layers.Flatten(input_shape=(lookback // step, float_data.shape[-1])))
model.add(layers.Dense(32, activation='relu'))
model.add(layers.Dense(1))

model.compile(optimizer=RMSprop(), loss='mae')
history = model.fit(train_gen,
                    steps_per_epoch=5,
                    epochs=2,
                    validation_data=val_gen,
                    validation_steps=val_steps)

# A first recurrent baseline
model = Sequential()
model.add(layers.GRU(32, input_shape=(None, float_data.shape[-1])))
model.add(layers.Dense(1))

model.compile(optimizer=RMSprop(), loss='mae')
history = model.fit(train_gen,
                    steps_per_epoch=5,
                    epochs=2,
                    validation_data=val_gen,
                    validation_steps=val_steps)

# Using recurrent dropout to fight overfitting
model = Sequential()
model.add(layers.GRU(32,
                     dropout=0.2,
                     recurrent_dropout=0.2,
                     input_shape=(None, float_data.shape[-1])))
model.add(layers.Dense(1))

model.compile(optimizer=RMSprop(), loss='mae')
history = model.fit(train_gen,
                    steps_per_epoch=5,
                    epochs=2,
                    validation_data=val_gen,
                    validation_steps=val_steps)

# Stacking recurrent layers
model = Sequential()
model.add(layers.GRU(32,
                     dropout=0.1,
                     recurrent_dropout=0.5,
                     return_sequences=True,
                     input_shape=(None, float_data.shape[-1])))
model.add(layers.GRU(64, activation='relu',
                     dropout=0.1,
                     recurrent_dropout=0.5))
model.add(layers.Dense(1))

model.compile(optimizer=RMSprop(), loss='mae')
history = model.fit(train_gen,
                    steps_per_epoch=5,
                    epochs=2,
                    validation_data=val_gen,
                    validation_steps=val_steps)

# Using bidirectional RNNs
model = Sequential()
model.add(layers.Bidirectional(
    layers.GRU(32), input_shape=(None, float_data.shape[-1])))
model.add(layers.Dense(1))

model.compile(optimizer=RMSprop(), loss='mae')
history = model.fit(train_gen,
                    steps_per_epoch=5,
                    epochs=2,
                    validation_data=val_gen,
                    validation_steps=val_steps)
