"""A tf_keras (Keras 2) GradientTape loop, eager: 6 optimizer steps."""
import numpy as np
import tensorflow as tf
import tf_keras as keras

keras.utils.set_random_seed(4)
x = np.random.RandomState(0).normal(size=(48, 3)).astype("float32")
y = x.sum(axis=1, keepdims=True)
model = keras.Sequential([keras.layers.Dense(4, input_shape=(3,)), keras.layers.Dense(1)])
optimizer = keras.optimizers.Adam(0.01)
for epoch in range(2):
    for i in range(3):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((model(x[i * 16:(i + 1) * 16]) - y[i * 16:(i + 1) * 16]) ** 2)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
print("loss", float(loss))
