"""Helpers of tf.data: nested element structures and traced functions."""
