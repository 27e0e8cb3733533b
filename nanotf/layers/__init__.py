"""tf.layers: TF 1.x's functional layers (dense, conv2d, pooling, dropout, batch_normalization, flatten)
and their classes, with TF's variable names ('dense/kernel', 'conv2d_1/bias', ...)."""
from nanotf.layers.base import InputSpec, Layer  # noqa: F401
from nanotf.layers.core import Dense, Dropout, Flatten, dense, dropout, flatten  # noqa: F401
from nanotf.layers.convolutional import *  # noqa: F401,F403
from nanotf.layers.pooling import *  # noqa: F401,F403
from nanotf.layers.normalization import BatchNormalization, batch_normalization  # noqa: F401
