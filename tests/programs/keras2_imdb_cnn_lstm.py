"""Train a recurrent convolutional network on the IMDB sentiment classification task, Keras 2
keras-team/keras examples/imdb_cnn_lstm.py (Embedding, Dropout, Conv1D, MaxPooling1D, LSTM).

Port: the `from keras.x import Y` lines are written as names taken from `keras`;
keras.datasets.imdb.load_data is replaced by random lists of word indices of varying lengths
(600 training and 150 test reviews); epochs 2 -> 1.
"""
import keras
import numpy as np

sequence = keras.preprocessing.sequence
Sequential = keras.models.Sequential
Dense, Dropout, Activation = keras.layers.Dense, keras.layers.Dropout, keras.layers.Activation
Embedding = keras.layers.Embedding
LSTM = keras.layers.LSTM
Conv1D, MaxPooling1D = keras.layers.Conv1D, keras.layers.MaxPooling1D

# Embedding
max_features = 20000
maxlen = 100
embedding_size = 128

# Convolution
kernel_size = 5
filters = 64
pool_size = 4

# LSTM
lstm_output_size = 70

# Training
batch_size = 30
epochs = 1


def load_data(num_words, rng=np.random.default_rng(0)):
    """Stand-in for imdb.load_data: reviews as lists of word indices, labels 0/1."""
    def split(count):
        reviews = [[1] + list(rng.integers(2, num_words, size=rng.integers(20, 200)))
                   for _ in range(count)]
        return np.array(reviews, dtype=object), rng.integers(0, 2, size=count)
    return split(600), split(150)


print('Loading data...')
(x_train, y_train), (x_test, y_test) = load_data(num_words=max_features)
print(len(x_train), 'train sequences')
print(len(x_test), 'test sequences')

print('Pad sequences (samples x time)')
x_train = sequence.pad_sequences(x_train, maxlen=maxlen)
x_test = sequence.pad_sequences(x_test, maxlen=maxlen)
print('x_train shape:', x_train.shape)
print('x_test shape:', x_test.shape)

print('Build model...')

model = Sequential()
model.add(Embedding(max_features, embedding_size, input_length=maxlen))
model.add(Dropout(0.25))
model.add(Conv1D(filters,
                 kernel_size,
                 padding='valid',
                 activation='relu',
                 strides=1))
model.add(MaxPooling1D(pool_size=pool_size))
model.add(LSTM(lstm_output_size))
model.add(Dense(1))
model.add(Activation('sigmoid'))

model.compile(loss='binary_crossentropy',
              optimizer='adam',
              metrics=['accuracy'])

print('Train...')
model.fit(x_train, y_train,
          batch_size=batch_size,
          epochs=epochs,
          validation_data=(x_test, y_test))
score, acc = model.evaluate(x_test, y_test, batch_size=batch_size)
print('Test score:', score)
print('Test accuracy:', acc)
