"""A variational autoencoder on MNIST (TF 1.x graph style; Kingma & Welling 2014).

Encoder: image -> dense(512, relu) -> (mean, log variance) of a 20-d Gaussian; a sample
z = mean + exp(log_var / 2) * eps (the reparameterization trick, eps ~ N(0, 1)) is decoded by
dense(512, relu) -> dense(784) Bernoulli logits. The loss is the negative evidence lower bound per image:
the reconstruction cross-entropy summed over pixels plus the closed-form KL divergence
KL(N(mean, var) || N(0, 1)) = -0.5 * sum(1 + log_var - mean^2 - var).

    python vae_mnist.py [--fake_data] [--steps N] [--data_dir DIR]

prints `test loss X` (the mean negative ELBO of the test images, in nats) on its last line.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _framework import tf  # noqa: E402
import _mnist_arrays  # noqa: E402
import _scaffolding  # noqa: E402
import numpy as np  # noqa: E402

HIDDEN = 512
LATENT = 20


def encoder(x):
    with tf.variable_scope("encoder"):
        h = tf.layers.dense(x, HIDDEN, activation=tf.nn.relu)
        return tf.layers.dense(h, LATENT, name="mean"), tf.layers.dense(h, LATENT, name="log_var")


def decoder(z, reuse=False):
    with tf.variable_scope("decoder", reuse=reuse):
        h = tf.layers.dense(z, HIDDEN, activation=tf.nn.relu)
        return tf.layers.dense(h, 784)


def main(argv=None):
    args = _scaffolding.parse_args(__doc__, argv, steps=5000, batch_size=128, learning_rate=1e-3)
    train_x, _, test_x, _ = _mnist_arrays.load(args.data_dir, args.fake_data, scaled=True)

    tf.reset_default_graph()
    tf.set_random_seed(0)
    x = tf.placeholder(tf.float32, [None, 784], name="images")
    mean, log_var = encoder(x)
    eps = tf.random_normal(tf.shape(mean), dtype=tf.float32)
    z = mean + tf.exp(log_var / 2) * eps
    logits = decoder(z)
    reconstruction = tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits), 1)
    kl = -0.5 * tf.reduce_sum(1 + log_var - tf.square(mean) - tf.exp(log_var), 1)
    loss = tf.reduce_mean(reconstruction + kl)
    train_op = tf.train.AdamOptimizer(args.learning_rate).minimize(loss)

    # a generated image from the prior, to show the decoder is usable on its own
    samples = tf.sigmoid(decoder(tf.random_normal([16, LATENT]), reuse=True))

    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for step, idx in _scaffolding.random_batches(rng, len(train_x), args.batch_size, args.steps):
            _, lv = sess.run([train_op, loss], {x: train_x[idx]})
            if step % 1000 == 0 or step == args.steps - 1:
                print("step %d, loss %.2f" % (step, lv))
        test_loss = _scaffolding.mean_over_chunks(lambda part: sess.run(loss, {x: part}), 2000, test_x)
        sess.run(samples)
    print("test loss %.2f" % test_loss)
    return test_loss


if __name__ == "__main__":
    main()
