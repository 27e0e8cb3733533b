"""Micro-benchmark: one training step of TF1's "Deep MNIST for Experts" network.

    .venv/bin/python benchmarks/programs/deep_mnist_step.py                      # nanotf
    benchmarks/.venvs/tf/bin/python benchmarks/programs/deep_mnist_step.py --framework tf
    .venv/bin/python benchmarks/programs/deep_mnist_step.py --xla                # nanotf's XLA backend

The graph is the tutorial's: conv 5x5 1->32, max-pool 2x2, conv 5x5 32->64, max-pool 2x2,
fc 3136->1024, dropout (keep 0.5), fc 1024->10, softmax cross-entropy, Adam(1e-4). Inputs are
random (batch 50); the program prints the median milliseconds per `sess.run(train_step)` over
`--steps` steps after `--warmup` steps, and the same number as one JSON line. With --xla (nanotf only) the
Session runs on the XLA backend (global_jit_level ON_1) and each step fetches the loss too, which waits for
the step (XLA runs asynchronously), as the hand-written JAX step (jax_deep_mnist_step.py) does.
"""
import argparse
import json
import os
import statistics
import time

import numpy as np


def build_graph(tf):
    """The tutorial's model code, written once for any TF1-API module."""
    def weight_variable(shape):
        return tf.Variable(tf.truncated_normal(shape, stddev=0.1))

    def bias_variable(shape):
        return tf.Variable(tf.constant(0.1, shape=shape))

    def conv_relu_pool(x, filter_shape):
        """The tutorial's conv2d (stride 1, 'SAME') + bias + ReLU, then max_pool_2x2, its ops in its order."""
        h = tf.nn.relu(tf.nn.conv2d(x, weight_variable(filter_shape), strides=[1, 1, 1, 1], padding='SAME')
                       + bias_variable(filter_shape[-1:]))
        return tf.nn.max_pool(h, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding='SAME')

    x = tf.placeholder(tf.float32, shape=[None, 784])
    y_ = tf.placeholder(tf.float32, shape=[None, 10])
    keep_prob = tf.placeholder(tf.float32)
    x_image = tf.reshape(x, [-1, 28, 28, 1])
    h_pool1 = conv_relu_pool(x_image, [5, 5, 1, 32])
    h_pool2 = conv_relu_pool(h_pool1, [5, 5, 32, 64])
    h_pool2_flat = tf.reshape(h_pool2, [-1, 7 * 7 * 64])
    h_fc1 = tf.nn.relu(tf.matmul(h_pool2_flat, weight_variable([7 * 7 * 64, 1024])) + bias_variable([1024]))
    h_fc1_drop = tf.nn.dropout(h_fc1, keep_prob)
    y_conv = tf.matmul(h_fc1_drop, weight_variable([1024, 10])) + bias_variable([10])
    cross_entropy = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y_, logits=y_conv))
    train_step = tf.train.AdamOptimizer(1e-4).minimize(cross_entropy)
    return x, y_, keep_prob, cross_entropy, train_step


def import_framework(name):
    if name == 'tf':
        import tensorflow.compat.v1 as tf
        tf.disable_eager_execution()
        return tf
    import nanotf as tf
    return tf


def step_parser(doc):
    """The flags every Deep MNIST step program takes: --batch_size, --warmup, --steps."""
    p = argparse.ArgumentParser(description=doc.split('\n')[0])
    p.add_argument('--batch_size', type=int, default=50)
    p.add_argument('--warmup', type=int, default=5)
    p.add_argument('--steps', type=int, default=50)
    return p


def main():
    p = step_parser(__doc__)
    p.add_argument('--framework', choices=('nanotf', 'tf'), default='nanotf')
    p.add_argument('--xla', action='store_true', help="nanotf's XLA backend (global_jit_level ON_1)")
    args = p.parse_args()
    if args.xla and args.framework != 'nanotf':
        p.error('--xla is for --framework nanotf')
    tf = import_framework(args.framework)
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (args.batch_size, 784)).astype(np.float32)
    labels = np.eye(10, dtype=np.float32)[rng.integers(0, 10, args.batch_size)]
    with tf.Graph().as_default():
        tf.set_random_seed(1)
        x, y_, keep_prob, loss, train_step = build_graph(tf)
        config = None
        if args.xla:
            config = tf.ConfigProto(graph_options=tf.GraphOptions(optimizer_options=tf.OptimizerOptions(
                global_jit_level=tf.OptimizerOptions.ON_1)))
        step = [train_step, loss] if args.xla else train_step
        with tf.Session(config=config) as sess:
            sess.run(tf.global_variables_initializer())
            feed = {x: images, y_: labels, keep_prob: 0.5}
            for _ in range(args.warmup):
                sess.run(step, feed_dict=feed)
            times = []
            for _ in range(args.steps):
                start = time.perf_counter()
                sess.run(step, feed_dict=feed)
                times.append((time.perf_counter() - start) * 1e3)
            final_loss = float(sess.run(loss, feed_dict={**feed, keep_prob: 1.0}))
    median = statistics.median(times)
    name = args.framework + ('-xla' if args.xla else '')
    print('%s: %.2f ms/step (median of %d; min %.2f), loss after %d steps %.4f'
          % (name, median, len(times), min(times), args.warmup + args.steps, final_loss))
    quartiles = statistics.quantiles(times, n=4) if len(times) > 1 else times * 3
    print(json.dumps({'framework': name, 'median_ms': round(median, 3), 'min_ms': round(min(times), 3),
                      'q1_ms': round(quartiles[0], 3), 'q3_ms': round(quartiles[2], 3),
                      'steps': len(times), 'batch_size': args.batch_size, 'final_loss': final_loss,
                      'openblas_env': {k: v for k, v in os.environ.items() if k.startswith('OPENBLAS')}}))


if __name__ == '__main__':
    main()
