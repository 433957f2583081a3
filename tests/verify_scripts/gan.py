"""A tiny GAN in the keras-io style: optimizers kept as model attributes.

compile() receives d_optimizer / g_optimizer, stored on the model; fit()
runs a custom train_step.  Flag --unseeded: the generator's noise and the
initial weights are unseeded (expected NOT REPRODUCIBLE).
"""
import sys

import numpy as np
import tensorflow as tf
import keras

if "--unseeded" not in sys.argv:
    keras.utils.set_random_seed(11)
    tf.config.experimental.enable_op_determinism()

LATENT = 3


class GAN(keras.Model):
    def __init__(self, discriminator, generator):
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.seed_generator = keras.random.SeedGenerator(1 if "--unseeded" not in sys.argv else None)

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.loss_fn = loss_fn

    def train_step(self, real):
        batch = tf.shape(real)[0]
        noise = keras.random.normal((batch, LATENT), seed=self.seed_generator)
        fake = self.generator(noise)
        data = tf.concat([fake, real], axis=0)
        labels = tf.concat([tf.ones((batch, 1)), tf.zeros((batch, 1))], axis=0)
        with tf.GradientTape() as tape:
            d_loss = self.loss_fn(labels, self.discriminator(data))
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))
        noise = keras.random.normal((batch, LATENT), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            g_loss = self.loss_fn(tf.zeros((batch, 1)), self.discriminator(self.generator(noise)))
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
        return {"d_loss": d_loss, "g_loss": g_loss}


discriminator = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1, activation="sigmoid")])
generator = keras.Sequential([keras.Input(shape=(LATENT,)), keras.layers.Dense(2)])
gan = GAN(discriminator, generator)
gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3), keras.losses.BinaryCrossentropy())
real = np.random.RandomState(0).normal(size=(64, 2)).astype("float32")
gan.fit(real, batch_size=16, epochs=1, verbose=0)
