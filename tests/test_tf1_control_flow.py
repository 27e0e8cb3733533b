"""End-to-end: an LSTM written by hand with tf.while_loop on MNIST rows, dropout switched by tf.cond
(examples/tf1/while_loop_rnn_mnist.py). Fake data in CI; real MNIST where present."""


def test_while_loop_rnn_learns_fake_mnist():
    import while_loop_rnn_mnist
    assert while_loop_rnn_mnist.main(["--fake_data", "--steps", "40"]) > 0.9


def test_while_loop_rnn_on_real_mnist(real_mnist_dir):
    import while_loop_rnn_mnist
    assert while_loop_rnn_mnist.main(["--data_dir", str(real_mnist_dir), "--steps", "400"]) > 0.9
