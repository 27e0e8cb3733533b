"""A deep convolutional GAN on MNIST (TF 1.x graph style; Radford et al. 2015) built with tf.layers.

Generator: noise(100) -> dense(7*7*64) -> batch_normalization -> relu -> conv2d_transpose(32, 5, stride 2)
-> batch_normalization -> relu -> conv2d_transpose(1, 5, stride 2) -> sigmoid, a 28x28 image.
Discriminator: conv2d(32, 5, stride 2) -> leaky_relu -> conv2d(64, 5, stride 2) -> batch_normalization ->
leaky_relu -> flatten -> dense(1) logit. Batch normalization runs in training mode (`is_training` fed
True) and its moving-average updates, collected in tf.GraphKeys.UPDATE_OPS, run before each optimizer step
through a control dependency.

    python dcgan_mnist.py [--fake_data] [--steps N] [--data_dir DIR]

prints `d_loss X g_loss Y d_real P d_fake Q` on its last line, as gan_mnist.py.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _framework import tf  # noqa: E402
import _mnist_arrays  # noqa: E402
import _scaffolding  # noqa: E402
import numpy as np  # noqa: E402

NOISE_DIM = 100


def generator(z, is_training, reuse=False):
    with tf.variable_scope("Generator", reuse=reuse):
        h = tf.layers.dense(z, 7 * 7 * 64)
        h = tf.reshape(h, [-1, 7, 7, 64])
        h = tf.nn.relu(tf.layers.batch_normalization(h, training=is_training))
        h = tf.layers.conv2d_transpose(h, 32, 5, strides=2, padding="same")
        h = tf.nn.relu(tf.layers.batch_normalization(h, training=is_training))
        h = tf.layers.conv2d_transpose(h, 1, 5, strides=2, padding="same")
        return tf.nn.sigmoid(h)


def discriminator(x, is_training, reuse=False):
    with tf.variable_scope("Discriminator", reuse=reuse):
        h = tf.layers.conv2d(x, 32, 5, strides=2, padding="same")
        h = tf.nn.leaky_relu(h, alpha=0.2)
        h = tf.layers.conv2d(h, 64, 5, strides=2, padding="same")
        h = tf.nn.leaky_relu(tf.layers.batch_normalization(h, training=is_training), alpha=0.2)
        h = tf.layers.flatten(h)
        return tf.layers.dense(h, 1)


def main(argv=None):
    args = _scaffolding.parse_args(__doc__, argv, steps=2000, batch_size=64, learning_rate=2e-4)
    train_x, _, test_x, _ = _mnist_arrays.load(args.data_dir, args.fake_data, scaled=True, shape=(28, 28, 1))

    tf.reset_default_graph()
    tf.set_random_seed(0)
    real = tf.placeholder(tf.float32, [None, 28, 28, 1], name="real_images")
    noise = tf.placeholder(tf.float32, [None, NOISE_DIM], name="noise")
    is_training = tf.placeholder(tf.bool, name="is_training")
    fake = generator(noise, is_training)
    d_real = discriminator(real, is_training)
    d_fake = discriminator(fake, is_training, reuse=True)

    d_loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.ones_like(d_real), logits=d_real)) + \
        tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.zeros_like(d_fake), logits=d_fake))
    g_loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.ones_like(d_fake), logits=d_fake))
    gen_vars = tf.trainable_variables(scope="Generator")
    disc_vars = tf.trainable_variables(scope="Discriminator")
    # batch normalization's moving averages update with each training step
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS, scope="Discriminator")):
        train_d = tf.train.AdamOptimizer(args.learning_rate, beta1=0.5).minimize(d_loss, var_list=disc_vars)
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS, scope="Generator")):
        train_g = tf.train.AdamOptimizer(args.learning_rate, beta1=0.5).minimize(g_loss, var_list=gen_vars)
    p_real = tf.reduce_mean(tf.sigmoid(d_real))
    p_fake = tf.reduce_mean(tf.sigmoid(d_fake))

    rng = np.random.RandomState(0)
    d_hist, g_hist = [], []
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for step, idx in _scaffolding.random_batches(rng, len(train_x), args.batch_size, args.steps):
            z = rng.uniform(-1.0, 1.0, size=(args.batch_size, NOISE_DIM)).astype(np.float32)
            _, dl = sess.run([train_d, d_loss], {real: train_x[idx], noise: z, is_training: True})
            _, gl = sess.run([train_g, g_loss], {noise: z, is_training: True})
            d_hist.append(dl)
            g_hist.append(gl)
            if step % 200 == 0 or step == args.steps - 1:
                print("step %d: d_loss %.4f g_loss %.4f" % (step, dl, gl))
        z = rng.uniform(-1.0, 1.0, size=(500, NOISE_DIM)).astype(np.float32)
        pr, pf = sess.run([p_real, p_fake], {real: test_x[:500], noise: z, is_training: False})
    dl, gl = float(np.mean(d_hist[-50:])), float(np.mean(g_hist[-50:]))
    print("d_loss %.4f g_loss %.4f d_real %.4f d_fake %.4f" % (dl, gl, pr, pf))
    return {"d_loss": dl, "g_loss": gl, "d_real": float(pr), "d_fake": float(pf)}


if __name__ == "__main__":
    main()
