"""Time series forecasting, TensorFlow tutorial (tensorflow/docs
site/en/tutorials/structured_data/time_series.ipynb): the WindowGenerator, its windowed
datasets, the single-shot LSTM, the multi-output LSTM and the autoregressive `FeedBack` model
(LSTMCell, RNN(cell, return_state=True) warm-up).

Port: `tf.keras.` is written `keras.`; tf.stack / tf.transpose are keras.ops.stack /
keras.ops.transpose, and the TensorFlow-only `set_shape` static-shape hints are left out; the
Jena climate download and its pandas DataFrame are replaced by a small stand-in holding a
generated NumPy array under the tutorial's 19 column names (1,500 hourly rows); MAX_EPOCHS
20 -> 2; the plots are left out.
"""
import keras
import numpy as np


class Frame:
    """Stand-in for the tutorial's pandas DataFrames: an array and its column names."""

    def __init__(self, values, columns):
        self.values, self.columns = values, list(columns)

    def __array__(self, dtype=None, copy=None):
        return self.values if dtype is None else self.values.astype(dtype)

    def __len__(self):
        return len(self.values)


columns = ['p (mbar)', 'T (degC)', 'Tpot (K)', 'Tdew (degC)', 'rh (%)', 'VPmax (mbar)',
           'VPact (mbar)', 'VPdef (mbar)', 'sh (g/kg)', 'H2OC (mmol/mol)', 'rho (g/m**3)',
           'Wx', 'Wy', 'max Wx', 'max Wy', 'Day sin', 'Day cos', 'Year sin', 'Year cos']
rng = np.random.default_rng(0)
values = rng.normal(size=(1500, len(columns))).cumsum(axis=0) * 0.1

column_indices = {name: i for i, name in enumerate(columns)}

n = len(values)
train_values = values[0:int(n*0.7)]
val_values = values[int(n*0.7):int(n*0.9)]
test_values = values[int(n*0.9):]

num_features = values.shape[1]

train_mean = train_values.mean(axis=0)
train_std = train_values.std(axis=0)

train_df = Frame((train_values - train_mean) / train_std, columns)
val_df = Frame((val_values - train_mean) / train_std, columns)
test_df = Frame((test_values - train_mean) / train_std, columns)


class WindowGenerator():
  def __init__(self, input_width, label_width, shift,
               train_df=train_df, val_df=val_df, test_df=test_df,
               label_columns=None):
    # Store the raw data.
    self.train_df = train_df
    self.val_df = val_df
    self.test_df = test_df

    # Work out the label column indices.
    self.label_columns = label_columns
    if label_columns is not None:
      self.label_columns_indices = {name: i for i, name in
                                    enumerate(label_columns)}
    self.column_indices = {name: i for i, name in
                           enumerate(train_df.columns)}

    # Work out the window parameters.
    self.input_width = input_width
    self.label_width = label_width
    self.shift = shift

    self.total_window_size = input_width + shift

    self.input_slice = slice(0, input_width)
    self.input_indices = np.arange(self.total_window_size)[self.input_slice]

    self.label_start = self.total_window_size - self.label_width
    self.labels_slice = slice(self.label_start, None)
    self.label_indices = np.arange(self.total_window_size)[self.labels_slice]

  def __repr__(self):
    return '\n'.join([
        f'Total window size: {self.total_window_size}',
        f'Input indices: {self.input_indices}',
        f'Label indices: {self.label_indices}',
        f'Label column name(s): {self.label_columns}'])


def split_window(self, features):
  inputs = features[:, self.input_slice, :]
  labels = features[:, self.labels_slice, :]
  if self.label_columns is not None:
    labels = keras.ops.stack(
        [labels[:, :, self.column_indices[name]] for name in self.label_columns],
        axis=-1)

  return inputs, labels


WindowGenerator.split_window = split_window


def make_dataset(self, data):
  data = np.array(data, dtype=np.float32)
  ds = keras.utils.timeseries_dataset_from_array(
      data=data,
      targets=None,
      sequence_length=self.total_window_size,
      sequence_stride=1,
      shuffle=True,
      batch_size=32,)

  ds = ds.map(self.split_window)

  return ds


WindowGenerator.make_dataset = make_dataset


@property
def train(self):
  return self.make_dataset(self.train_df)


@property
def val(self):
  return self.make_dataset(self.val_df)


@property
def test(self):
  return self.make_dataset(self.test_df)


@property
def example(self):
  """Get and cache an example batch of `inputs, labels` for plotting."""
  result = getattr(self, '_example', None)
  if result is None:
    # No example batch was found, so get one from the `.train` dataset
    result = next(iter(self.train))
    # And cache it for next time
    self._example = result
  return result


WindowGenerator.train = train
WindowGenerator.val = val
WindowGenerator.test = test
WindowGenerator.example = example

w2 = WindowGenerator(input_width=6, label_width=1, shift=1,
                     label_columns=['T (degC)'])
print(w2)

# Stack three slices, the length of the total window.
example_window = keras.ops.stack([np.array(train_df.values[:w2.total_window_size]),
                                  np.array(train_df.values[100:100+w2.total_window_size]),
                                  np.array(train_df.values[200:200+w2.total_window_size])])

example_inputs, example_labels = w2.split_window(example_window)

print('All shapes are: (batch, time, features)')
print(f'Window shape: {example_window.shape}')
print(f'Inputs shape: {example_inputs.shape}')
print(f'Labels shape: {example_labels.shape}')

for example_inputs, example_labels in w2.train.take(1):
  print(f'Inputs shape (batch, time, features): {example_inputs.shape}')
  print(f'Labels shape (batch, time, features): {example_labels.shape}')

MAX_EPOCHS = 2


def compile_and_fit(model, window, patience=2):
  early_stopping = keras.callbacks.EarlyStopping(monitor='val_loss',
                                                 patience=patience,
                                                 mode='min')

  model.compile(loss=keras.losses.MeanSquaredError(),
                optimizer=keras.optimizers.Adam(),
                metrics=[keras.metrics.MeanAbsoluteError()])

  history = model.fit(window.train, epochs=MAX_EPOCHS,
                      validation_data=window.val,
                      callbacks=[early_stopping])
  return history


val_performance = {}
performance = {}

wide_window = WindowGenerator(
    input_width=24, label_width=24, shift=1,
    label_columns=['T (degC)'])

lstm_model = keras.models.Sequential([
    # Shape [batch, time, features] => [batch, time, lstm_units]
    keras.layers.LSTM(32, return_sequences=True),
    # Shape => [batch, time, features]
    keras.layers.Dense(units=1)
])

print('Input shape:', wide_window.example[0].shape)
print('Output shape:', lstm_model(wide_window.example[0]).shape)

history = compile_and_fit(lstm_model, wide_window)

val_performance['LSTM'] = lstm_model.evaluate(wide_window.val, return_dict=True)
performance['LSTM'] = lstm_model.evaluate(wide_window.test, verbose=0, return_dict=True)

# Multi-step models
OUT_STEPS = 24
multi_window = WindowGenerator(input_width=24,
                               label_width=OUT_STEPS,
                               shift=OUT_STEPS)

print(multi_window)

multi_val_performance = {}
multi_performance = {}

multi_lstm_model = keras.Sequential([
    # Shape [batch, time, features] => [batch, lstm_units].
    # Adding more `lstm_units` just overfits more quickly.
    keras.layers.LSTM(32, return_sequences=False),
    # Shape => [batch, out_steps*features].
    keras.layers.Dense(OUT_STEPS*num_features,
                       kernel_initializer=keras.initializers.zeros()),
    # Shape => [batch, out_steps, features].
    keras.layers.Reshape([OUT_STEPS, num_features])
])

history = compile_and_fit(multi_lstm_model, multi_window)

multi_val_performance['LSTM'] = multi_lstm_model.evaluate(multi_window.val, return_dict=True)
multi_performance['LSTM'] = multi_lstm_model.evaluate(multi_window.test, verbose=0, return_dict=True)


# Advanced: Autoregressive model
class FeedBack(keras.Model):
  def __init__(self, units, out_steps):
    super().__init__()
    self.out_steps = out_steps
    self.units = units
    self.lstm_cell = keras.layers.LSTMCell(units)
    # Also wrap the LSTMCell in an RNN to simplify the `warmup` method.
    self.lstm_rnn = keras.layers.RNN(self.lstm_cell, return_state=True)
    self.dense = keras.layers.Dense(num_features)


feedback_model = FeedBack(units=32, out_steps=OUT_STEPS)


def warmup(self, inputs):
  # inputs.shape => (batch, time, features)
  # x.shape => (batch, lstm_units)
  x, *state = self.lstm_rnn(inputs)

  # predictions.shape => (batch, features)
  prediction = self.dense(x)
  return prediction, state


FeedBack.warmup = warmup

prediction, state = feedback_model.warmup(multi_window.example[0])
print(prediction.shape)


def call(self, inputs, training=None):
  # Use a TensorArray to capture dynamically unrolled outputs.
  predictions = []
  # Initialize the LSTM state.
  prediction, state = self.warmup(inputs)

  # Insert the first prediction.
  predictions.append(prediction)

  # Run the rest of the prediction steps.
  for n in range(1, self.out_steps):
    # Use the last prediction as input.
    x = prediction
    # Execute one lstm step.
    x, state = self.lstm_cell(x, states=state,
                              training=training)
    # Convert the lstm output to a prediction.
    prediction = self.dense(x)
    # Add the prediction to the output.
    predictions.append(prediction)

  # predictions.shape => (time, batch, features)
  predictions = keras.ops.stack(predictions)
  # predictions.shape => (batch, time, features)
  predictions = keras.ops.transpose(predictions, [1, 0, 2])
  return predictions


FeedBack.call = call

print('Output shape (batch, time, features): ', feedback_model(multi_window.example[0]).shape)

history = compile_and_fit(feedback_model, multi_window)

multi_val_performance['AR LSTM'] = feedback_model.evaluate(multi_window.val, return_dict=True)
multi_performance['AR LSTM'] = feedback_model.evaluate(multi_window.test, verbose=0, return_dict=True)
print(multi_val_performance, multi_performance)
