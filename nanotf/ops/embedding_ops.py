"""Embedding lookups and sampled losses (tf.nn.embedding_lookup, tf.nn.nce_loss)."""
__all__ = []
