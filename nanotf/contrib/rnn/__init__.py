"""tf.contrib.rnn: RNN cells and static_rnn / static_bidirectional_rnn under contrib's path."""
