"""tf.losses (nanotf.losses re-exports losses_impl's public names)."""
