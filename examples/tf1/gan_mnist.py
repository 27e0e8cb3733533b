"""A generative adversarial network on MNIST (TF 1.x graph style, two-layer MLPs).

Generator: noise(100) -> dense(256, relu) -> dense(784, sigmoid). Discriminator: image -> dense(256, relu)
-> dense(1) logit. Each network lives in its own variable scope; the discriminator is applied to real and
generated images with reuse=True. Two Adam optimizers train the discriminator (real -> 1, fake -> 0) and the
generator (fake -> 1), each on its own variables, picked by scope from the trainable-variables collection.

    python gan_mnist.py [--fake_data] [--steps N] [--data_dir DIR]

prints `d_loss X g_loss Y d_real P d_fake Q` on its last line (the losses averaged over the last 100 steps,
and the discriminator's mean probability of 'real' on held-out real images and on fresh samples).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _framework import tf  # noqa: E402
import _mnist_arrays  # noqa: E402
import _scaffolding  # noqa: E402
import numpy as np  # noqa: E402

NOISE_DIM = 100
HIDDEN = 256


def generator(z, reuse=False):
    with tf.variable_scope("Generator", reuse=reuse):
        h = tf.layers.dense(z, HIDDEN, activation=tf.nn.relu)
        return tf.layers.dense(h, 784, activation=tf.nn.sigmoid)


def discriminator(x, reuse=False):
    with tf.variable_scope("Discriminator", reuse=reuse):
        h = tf.layers.dense(x, HIDDEN, activation=tf.nn.relu)
        return tf.layers.dense(h, 1)


def main(argv=None):
    args = _scaffolding.parse_args(__doc__, argv, steps=5000, batch_size=128, learning_rate=2e-4)
    train_x, _, test_x, _ = _mnist_arrays.load(args.data_dir, args.fake_data, scaled=True)

    tf.reset_default_graph()
    tf.set_random_seed(0)
    real = tf.placeholder(tf.float32, [None, 784], name="real_images")
    noise = tf.placeholder(tf.float32, [None, NOISE_DIM], name="noise")
    fake = generator(noise)
    d_real = discriminator(real)
    d_fake = discriminator(fake, reuse=True)

    d_loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.ones_like(d_real), logits=d_real)) + \
        tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.zeros_like(d_fake), logits=d_fake))
    g_loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.ones_like(d_fake), logits=d_fake))
    gen_vars = tf.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES, scope="Generator")
    disc_vars = tf.trainable_variables(scope="Discriminator")
    train_d = tf.train.AdamOptimizer(args.learning_rate).minimize(d_loss, var_list=disc_vars)
    train_g = tf.train.AdamOptimizer(args.learning_rate).minimize(g_loss, var_list=gen_vars)
    p_real = tf.reduce_mean(tf.sigmoid(d_real))
    p_fake = tf.reduce_mean(tf.sigmoid(d_fake))

    rng = np.random.RandomState(0)
    d_hist, g_hist = [], []
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for step, idx in _scaffolding.random_batches(rng, len(train_x), args.batch_size, args.steps):
            z = rng.uniform(-1.0, 1.0, size=(args.batch_size, NOISE_DIM)).astype(np.float32)
            _, dl = sess.run([train_d, d_loss], {real: train_x[idx], noise: z})
            _, gl = sess.run([train_g, g_loss], {noise: z})
            d_hist.append(dl)
            g_hist.append(gl)
            if step % 1000 == 0 or step == args.steps - 1:
                print("step %d: d_loss %.4f g_loss %.4f" % (step, dl, gl))
        z = rng.uniform(-1.0, 1.0, size=(1000, NOISE_DIM)).astype(np.float32)
        pr, pf = sess.run([p_real, p_fake], {real: test_x[:1000], noise: z})
    dl, gl = float(np.mean(d_hist[-100:])), float(np.mean(g_hist[-100:]))
    print("d_loss %.4f g_loss %.4f d_real %.4f d_fake %.4f" % (dl, gl, pr, pf))
    return {"d_loss": dl, "g_loss": gl, "d_real": float(pr), "d_fake": float(pf)}


if __name__ == "__main__":
    main()
