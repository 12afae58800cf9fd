"""Hands-On Machine Learning with Scikit-Learn, Keras, and TensorFlow, 3rd ed. (A. Geron),
chapter 15 "Processing Sequences Using RNNs and CNNs", ageron/handson-ml3
15_processing_sequences_using_rnns_and_cnns.ipynb: the Keras models of the chapter (linear
baseline, SimpleRNN, deep RNN, multivariate and multitask RNNs, 14-steps-ahead and
sequence-to-sequence RNNs, LNSimpleRNNCell in RNN(cell), LSTM, GRU, Conv1D + GRU, WaveNet).

Port: `tf.keras.` is written `keras.`; the Chicago ridership CSV and its pandas DataFrames are
replaced by generated daily NumPy series of the same columns (bus, rail, one-hot next day type
A/U/W), 500 training and 151 validation days; `to_windows` (tf.data window/flat_map) is replaced
by timeseries_dataset_from_array(...).map() with keras.ops.stack, which yields the same
(inputs, 14-step targets) pairs; fit_and_evaluate's 500 epochs -> 2 (5 -> 2); the ARIMA,
pandas plots and the extra MyRNN (tf.function, TensorArray) and gated WaveNet are left out.
"""
import keras
import numpy as np

# Stand-in for the ridership DataFrame: columns bus, rail (millions), next_day_type A/U/W.
rng = np.random.default_rng(42)
days = 500 + 151
weekly = np.tile([1.0, 1.0, 1.0, 1.0, 1.0, 0.6, 0.5], days // 7 + 1)[:days]
bus = 0.8 * weekly + 0.05 * rng.normal(size=days)
rail = 0.7 * weekly + 0.05 * rng.normal(size=days)
day_type = np.where(weekly == 1.0, 0, np.where(weekly == 0.6, 1, 2))   # W, A (Sat), U (Sun)
next_day_type = np.roll(day_type, -1)
one_hot = np.stack([next_day_type == 1, next_day_type == 2, next_day_type == 0], axis=1)
df_mulvar = np.column_stack([bus, rail, one_hot.astype(float)])   # bus, rail, A, U, W
mulvar_train, mulvar_valid = df_mulvar[:500], df_mulvar[500:]
rail_train, rail_valid = rail[:500], rail[500:]

seq_length = 56
keras.utils.set_random_seed(42)  # extra code – ensures reproducibility
train_ds = keras.utils.timeseries_dataset_from_array(
    rail_train,
    targets=rail_train[seq_length:],
    sequence_length=seq_length,
    batch_size=32,
    shuffle=True,
    seed=42
)
valid_ds = keras.utils.timeseries_dataset_from_array(
    rail_valid,
    targets=rail_valid[seq_length:],
    sequence_length=seq_length,
    batch_size=32
)

keras.utils.set_random_seed(42)
model = keras.Sequential([
    keras.layers.Dense(1, input_shape=[seq_length])
])
early_stopping_cb = keras.callbacks.EarlyStopping(
    monitor="val_mae", patience=50, restore_best_weights=True)
opt = keras.optimizers.SGD(learning_rate=0.02, momentum=0.9)
model.compile(loss=keras.losses.Huber(), optimizer=opt, metrics=["mae"])
history = model.fit(train_ds, validation_data=valid_ds, epochs=2,
                    callbacks=[early_stopping_cb])

# extra code – evaluates the model
valid_loss, valid_mae = model.evaluate(valid_ds)
print(valid_mae * 1e6)

# Using a Simple RNN
keras.utils.set_random_seed(42)  # extra code – ensures reproducibility
model = keras.Sequential([
    keras.layers.SimpleRNN(1, input_shape=[None, 1])
])


def fit_and_evaluate(model, train_set, valid_set, learning_rate, epochs=2):
    early_stopping_cb = keras.callbacks.EarlyStopping(
        monitor="val_mae", patience=50, restore_best_weights=True)
    opt = keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.9)
    model.compile(loss=keras.losses.Huber(), optimizer=opt, metrics=["mae"])
    history = model.fit(train_set, validation_data=valid_set, epochs=epochs,
                        callbacks=[early_stopping_cb])
    valid_loss, valid_mae = model.evaluate(valid_set)
    return valid_mae * 1e6


print(fit_and_evaluate(model, train_ds, valid_ds, learning_rate=0.02))

keras.utils.set_random_seed(42)  # extra code – ensures reproducibility
univar_model = keras.Sequential([
    keras.layers.SimpleRNN(32, input_shape=[None, 1]),
    keras.layers.Dense(1)  # no activation function by default
])
print(fit_and_evaluate(univar_model, train_ds, valid_ds, learning_rate=0.05))

# Deep RNNs
keras.utils.set_random_seed(42)  # extra code – ensures reproducibility
deep_model = keras.Sequential([
    keras.layers.SimpleRNN(32, return_sequences=True, input_shape=[None, 1]),
    keras.layers.SimpleRNN(32, return_sequences=True),
    keras.layers.SimpleRNN(32),
    keras.layers.Dense(1)
])
print(fit_and_evaluate(deep_model, train_ds, valid_ds, learning_rate=0.01))

# Multivariate time series
keras.utils.set_random_seed(42)  # extra code – ensures reproducibility
train_mulvar_ds = keras.utils.timeseries_dataset_from_array(
    mulvar_train,  # use all 5 columns as input
    targets=mulvar_train[:, 1][seq_length:],  # forecast only the rail series
    sequence_length=seq_length,
    batch_size=32,
    shuffle=True,
    seed=42
)
valid_mulvar_ds = keras.utils.timeseries_dataset_from_array(
    mulvar_valid,
    targets=mulvar_valid[:, 1][seq_length:],
    sequence_length=seq_length,
    batch_size=32
)

keras.utils.set_random_seed(42)  # extra code – ensures reproducibility
mulvar_model = keras.Sequential([
    keras.layers.SimpleRNN(32, input_shape=[None, 5]),
    keras.layers.Dense(1)
])
print(fit_and_evaluate(mulvar_model, train_mulvar_ds, valid_mulvar_ds,
                       learning_rate=0.05))

# extra code – build and train a multitask RNN that forecasts both bus and rail
keras.utils.set_random_seed(42)
seq_length = 56
train_multask_ds = keras.utils.timeseries_dataset_from_array(
    mulvar_train,
    targets=mulvar_train[:, [0, 1]][seq_length:],  # 2 targets per day
    sequence_length=seq_length,
    batch_size=32,
    shuffle=True,
    seed=42
)
valid_multask_ds = keras.utils.timeseries_dataset_from_array(
    mulvar_valid,
    targets=mulvar_valid[:, [0, 1]][seq_length:],
    sequence_length=seq_length,
    batch_size=32
)

keras.utils.set_random_seed(42)
multask_model = keras.Sequential([
    keras.layers.SimpleRNN(32, input_shape=[None, 5]),
    keras.layers.Dense(2)
])
print(fit_and_evaluate(multask_model, train_multask_ds, valid_multask_ds,
                       learning_rate=0.02))

# extra code – evaluates the multitask RNN's forecasts both bus and rail
Y_preds_valid = multask_model.predict(valid_multask_ds)
for idx, name in enumerate(["bus", "rail"]):
    mae = 1e6 * keras.metrics.MeanAbsoluteError()(
        mulvar_valid[:, idx][seq_length:], Y_preds_valid[:, idx])
    print(name, int(mae))

# Forecasting Several Steps Ahead
X = rail_valid[np.newaxis, :seq_length, np.newaxis]
for step_ahead in range(14):
    y_pred_one = univar_model.predict(X)
    X = np.concatenate([X, y_pred_one.reshape(1, 1, 1)], axis=1)

keras.utils.set_random_seed(42)  # extra code – ensures reproducibility


def split_inputs_and_targets(mulvar_series, ahead=14, target_col=1):
    return mulvar_series[:, :-ahead], mulvar_series[:, -ahead:, target_col]


ahead_train_ds = keras.utils.timeseries_dataset_from_array(
    mulvar_train,
    targets=None,
    sequence_length=seq_length + 14,
    batch_size=32,
    shuffle=True,
    seed=42
).map(split_inputs_and_targets)
ahead_valid_ds = keras.utils.timeseries_dataset_from_array(
    mulvar_valid,
    targets=None,
    sequence_length=seq_length + 14,
    batch_size=32
).map(split_inputs_and_targets)

keras.utils.set_random_seed(42)
ahead_model = keras.Sequential([
    keras.layers.SimpleRNN(32, input_shape=[None, 5]),
    keras.layers.Dense(14)
])
print(fit_and_evaluate(ahead_model, ahead_train_ds, ahead_valid_ds,
                       learning_rate=0.02))

X = mulvar_valid[np.newaxis, :seq_length]  # shape [1, 56, 5]
Y_pred = ahead_model.predict(X)  # shape [1, 14]


def to_seq2seq_dataset(series, seq_length=56, ahead=14, target_col=1,
                       batch_size=32, shuffle=False, seed=None):
    # each window of seq_length + ahead steps gives the inputs at steps 0..seq_length-1 and,
    # for each of them, the target column over the `ahead` steps that follow it
    def split(window):
        targets = [window[:, step + 1:step + 1 + ahead, target_col]
                   for step in range(seq_length)]
        return window[:, :seq_length], keras.ops.stack(targets, axis=1)
    ds = keras.utils.timeseries_dataset_from_array(
        series, targets=None, sequence_length=seq_length + ahead,
        batch_size=batch_size, shuffle=shuffle, seed=seed)
    return ds.map(split)


seq2seq_train = to_seq2seq_dataset(mulvar_train, shuffle=True, seed=42)
seq2seq_valid = to_seq2seq_dataset(mulvar_valid)

keras.utils.set_random_seed(42)  # extra code – ensures reproducibility
seq2seq_model = keras.Sequential([
    keras.layers.SimpleRNN(32, return_sequences=True, input_shape=[None, 5]),
    keras.layers.Dense(14)
    # equivalent: keras.layers.TimeDistributed(keras.layers.Dense(14))
    # also equivalent: keras.layers.Conv1D(14, kernel_size=1)
])
print(fit_and_evaluate(seq2seq_model, seq2seq_train, seq2seq_valid,
                       learning_rate=0.1))

X = mulvar_valid[np.newaxis, :seq_length]
y_pred_14 = seq2seq_model.predict(X)[0, -1]  # only the last time step's output

Y_pred_valid = seq2seq_model.predict(seq2seq_valid)
for ahead in range(14):
    preds = Y_pred_valid[:-1, -1, ahead]
    mae = np.abs(preds - mulvar_valid[56 + ahead: -14 + ahead, 1]).mean() * 1e6
    print(f"MAE for +{ahead + 1}: {mae:,.0f}")


# Deep RNNs with Layer Norm
class LNSimpleRNNCell(keras.layers.Layer):
    def __init__(self, units, activation="tanh", **kwargs):
        super().__init__(**kwargs)
        self.state_size = units
        self.output_size = units
        self.simple_rnn_cell = keras.layers.SimpleRNNCell(units,
                                                          activation=None)
        self.layer_norm = keras.layers.LayerNormalization()
        self.activation = keras.activations.get(activation)

    def call(self, inputs, states):
        outputs, new_states = self.simple_rnn_cell(inputs, states)
        norm_outputs = self.activation(self.layer_norm(outputs))
        return norm_outputs, [norm_outputs]


keras.utils.set_random_seed(42)  # extra code – ensures reproducibility
custom_ln_model = keras.Sequential([
    keras.layers.RNN(LNSimpleRNNCell(32), return_sequences=True,
                     input_shape=[None, 5]),
    keras.layers.Dense(14)
])
print(fit_and_evaluate(custom_ln_model, seq2seq_train, seq2seq_valid,
                       learning_rate=0.1, epochs=2))

# LSTMs
keras.utils.set_random_seed(42)  # extra code – ensures reproducibility
lstm_model = keras.models.Sequential([
    keras.layers.LSTM(32, return_sequences=True, input_shape=[None, 5]),
    keras.layers.Dense(14)
])
print(fit_and_evaluate(lstm_model, seq2seq_train, seq2seq_valid,
                       learning_rate=0.1, epochs=2))

# GRUs
keras.utils.set_random_seed(42)  # extra code – ensures reproducibility
gru_model = keras.Sequential([
    keras.layers.GRU(32, return_sequences=True, input_shape=[None, 5]),
    keras.layers.Dense(14)
])
print(fit_and_evaluate(gru_model, seq2seq_train, seq2seq_valid,
                       learning_rate=0.1, epochs=2))

# Using One-Dimensional Convolutional Layers to Process Sequences
keras.utils.set_random_seed(42)  # extra code – ensures reproducibility
conv_rnn_model = keras.Sequential([
    keras.layers.Conv1D(filters=32, kernel_size=4, strides=2,
                        activation="relu", input_shape=[None, 5]),
    keras.layers.GRU(32, return_sequences=True),
    keras.layers.Dense(14)
])

longer_train = to_seq2seq_dataset(mulvar_train, seq_length=112,
                                  shuffle=True, seed=42)
longer_valid = to_seq2seq_dataset(mulvar_valid, seq_length=112)
downsampled_train = longer_train.map(lambda X, Y: (X, Y[:, 3::2]))
downsampled_valid = longer_valid.map(lambda X, Y: (X, Y[:, 3::2]))
print(fit_and_evaluate(conv_rnn_model, downsampled_train, downsampled_valid,
                       learning_rate=0.1, epochs=2))

# WaveNet
keras.utils.set_random_seed(42)  # extra code – ensures reproducibility
wavenet_model = keras.Sequential()
wavenet_model.add(keras.layers.InputLayer(input_shape=[None, 5]))
for rate in (1, 2, 4, 8) * 2:
    wavenet_model.add(keras.layers.Conv1D(
        filters=32, kernel_size=2, padding="causal", activation="relu",
        dilation_rate=rate))
wavenet_model.add(keras.layers.Conv1D(filters=14, kernel_size=1))
print(fit_and_evaluate(wavenet_model, longer_train, longer_valid,
                       learning_rate=0.1, epochs=2))
