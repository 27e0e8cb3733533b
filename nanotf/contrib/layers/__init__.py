"""tf.contrib.layers: flatten, fully_connected, conv2d, batch_norm, regularizers and initializers."""
