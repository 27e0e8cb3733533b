"""End-to-end: an LSTM written by hand with tf.while_loop on MNIST rows, dropout switched by tf.cond
(examples/tf1/while_loop_rnn_mnist.py). Fake data in CI; real MNIST where present."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples", "tf1"))


def test_while_loop_rnn_learns_fake_mnist():
    import while_loop_rnn_mnist
    assert while_loop_rnn_mnist.main(["--fake_data", "--steps", "40"]) > 0.9


def test_while_loop_rnn_on_real_mnist():
    from _mnist_data import require_real_mnist
    data_dir = require_real_mnist()
    import while_loop_rnn_mnist
    assert while_loop_rnn_mnist.main(["--data_dir", str(data_dir), "--steps", "400"]) > 0.9
