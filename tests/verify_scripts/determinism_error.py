"""Enables op determinism but uses an unseeded random op: TF raises."""
import tensorflow as tf

tf.config.experimental.enable_op_determinism()
noise = tf.random.uniform([3])
print(noise)
