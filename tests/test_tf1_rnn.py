"""End-to-end RNN programs in the style of the TF 1.x example collections (examples/tf1): an LSTM on MNIST rows
through static_rnn and through dynamic_rnn, a bidirectional LSTM, and a GRU on variable-length toy sequences.
Fake data in CI (a few seconds each); real MNIST where present."""
import os

import pytest


@pytest.mark.parametrize("program,steps", [("lstm_mnist", 30), ("lstm_mnist_dynamic", 60),
                                           ("bidirectional_lstm_mnist", 30)])
def test_lstm_programs_learn_fake_mnist(program, steps):
    module = __import__(program)
    assert module.main(["--fake_data", "--steps", str(steps)]) > 0.9


def test_gru_learns_variable_length_sequences():
    import gru_dynamic_length
    # chance is 0.5 and length-1 sequences cannot be told apart; measured 0.947 here and 0.889 under
    # OPENBLAS_CORETYPE=Haswell (another kernel's rounding changes the run), so the bar is well above chance
    assert gru_dynamic_length.main(["--steps", "300"]) > 0.8


def test_lstm_on_real_mnist(real_mnist_dir):
    import lstm_mnist
    assert lstm_mnist.main(["--data_dir", str(real_mnist_dir), "--steps", "200"]) > 0.88   # measured 0.918 (300: 0.933)


@pytest.mark.skipif(not os.environ.get("NANOTF_LONG_TESTS"), reason="long run: set NANOTF_LONG_TESTS=1")
@pytest.mark.parametrize("program", ["lstm_mnist", "lstm_mnist_dynamic", "bidirectional_lstm_mnist"])
def test_lstm_programs_reach_94_percent_on_real_mnist(program, real_mnist_dir):
    module = __import__(program)
    assert module.main(["--data_dir", str(real_mnist_dir), "--steps", "500"]) > 0.94   # measured 0.950, 0.944, 0.951
