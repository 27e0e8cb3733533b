"""The MNIST network of "TensorFlow Mechanics 101", built with nanotf.

The graph is built in three stages, each a function:
  inference()  -- the forward pass: two ReLU layers and a linear softmax layer, returning logits;
  loss()       -- the cross-entropy between logits and labels, averaged over the batch;
  training()   -- the ops that compute gradients and apply them, plus a loss summary.
evaluation() counts how many logits put the true label first.

Every layer lives in its own name scope, so its variables are named `hidden1/weights`,
`hidden1/biases`, ..., and TensorBoard groups the graph by layer.
"""
import math

import nanotf as tf

NUM_CLASSES = 10          # the digits 0..9
IMAGE_SIZE = 28           # MNIST images are 28x28 pixels
IMAGE_PIXELS = IMAGE_SIZE * IMAGE_SIZE


def _layer(inputs, fan_in, fan_out, scope, activation=None):
    """One fully connected layer under `scope`: weights ~ truncated normal(0, 1/sqrt(fan_in)), biases 0."""
    with tf.name_scope(scope):
        weights = tf.Variable(tf.truncated_normal([fan_in, fan_out], stddev=1.0 / math.sqrt(float(fan_in))),
                              name="weights")
        biases = tf.Variable(tf.zeros([fan_out]), name="biases")
        pre_activation = tf.matmul(inputs, weights) + biases
        return activation(pre_activation) if activation else pre_activation


def inference(images, hidden1_units, hidden2_units):
    """Builds the forward pass up to the logits.

    Args:
      images: float placeholder of shape [batch_size, IMAGE_PIXELS].
      hidden1_units, hidden2_units: sizes of the two hidden layers.
    Returns:
      logits: float tensor of shape [batch_size, NUM_CLASSES].
    """
    hidden1 = _layer(images, IMAGE_PIXELS, hidden1_units, "hidden1", tf.nn.relu)
    hidden2 = _layer(hidden1, hidden1_units, hidden2_units, "hidden2", tf.nn.relu)
    return _layer(hidden2, hidden2_units, NUM_CLASSES, "softmax_linear")


def loss(logits, labels):
    """Mean cross-entropy of the logits against integer labels; the op is named `xentropy_mean`."""
    labels = tf.to_int64(labels)
    cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits, name="xentropy")
    return tf.reduce_mean(cross_entropy, name="xentropy_mean")


def training(loss, learning_rate):
    """Adds a loss summary and one gradient-descent step; returns the train op.

    Running the returned op once updates every trainable variable and increments `global_step`.
    """
    tf.summary.scalar("loss", loss)
    optimizer = tf.train.GradientDescentOptimizer(learning_rate)
    global_step = tf.Variable(0, name="global_step", trainable=False)
    return optimizer.minimize(loss, global_step=global_step)


def evaluation(logits, labels):
    """The number of examples in the batch whose true label has the highest logit (a scalar int32)."""
    correct = tf.nn.in_top_k(logits, labels, 1)
    return tf.reduce_sum(tf.cast(correct, tf.int32))
