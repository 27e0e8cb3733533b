"""tf.layers: TF 1.x's functional layers (dense, conv2d, pooling, dropout, batch_normalization, flatten)."""
