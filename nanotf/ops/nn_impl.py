"""tf.nn functions built from other ops: batch_normalization, l2_loss, conv1d, nce_loss's helpers."""
__all__ = []
