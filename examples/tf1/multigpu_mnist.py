"""Data-parallel training over several "GPU" towers (TF 1.x graph style, as the multi-GPU examples wrote it).

Each batch is split between `--num_gpus` towers; tower i is built under `tf.device('/gpu:%d' % i)` with its
variables on the CPU (a device function), sharing variables through variable_scope reuse. Each tower's
optimizer.compute_gradients are averaged and applied once. The Session runs with
ConfigProto(allow_soft_placement=True), so on a machine without those GPUs (and on nanotf, which computes
on its one CPU) every op runs on the CPU and the program's results are unchanged.

    python multigpu_mnist.py [--fake_data] [--steps N] [--data_dir DIR] [--num_gpus K]

prints `test accuracy 0.9xxx` on its last line.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _framework import tf  # noqa: E402
import _mnist_arrays  # noqa: E402
import _scaffolding  # noqa: E402
import numpy as np  # noqa: E402

PS_OPS = ("Variable", "VariableV2", "AutoReloadVariable")


def assign_to_device(device, ps_device="/cpu:0"):
    """Variables on the parameter device, every other op on `device`."""
    def _assign(op):
        return ps_device if op.type in PS_OPS else device
    return _assign


def model(x, reuse, training):
    with tf.variable_scope("model", reuse=reuse):
        h = tf.layers.dense(x, 256, activation=tf.nn.relu)
        h = tf.layers.dropout(h, rate=0.2, training=training)
        return tf.layers.dense(h, 10)


def average_gradients(tower_grads):
    """The mean over towers of each variable's gradient."""
    averaged = []
    for grad_and_vars in zip(*tower_grads):
        grads = [tf.expand_dims(g, 0) for g, _ in grad_and_vars]
        grad = tf.reduce_mean(tf.concat(grads, 0), 0)
        averaged.append((grad, grad_and_vars[0][1]))
    return averaged


def main(argv=None):
    args = _scaffolding.parse_args(__doc__, argv, steps=2000, batch_size=128, num_gpus=2, learning_rate=1e-3)
    train_x, train_y, test_x, test_y = _mnist_arrays.load(args.data_dir, args.fake_data, scaled=True)

    tf.reset_default_graph()
    tf.set_random_seed(0)
    with tf.device("/cpu:0"):
        images = tf.placeholder(tf.float32, [None, 784], name="images")
        labels = tf.placeholder(tf.int64, [None], name="labels")
        optimizer = tf.train.AdamOptimizer(args.learning_rate)
        tower_grads = []
        per_tower = args.batch_size // args.num_gpus
        for i in range(args.num_gpus):
            with tf.device(assign_to_device("/gpu:%d" % i, ps_device="/cpu:0")):
                x = images[i * per_tower:(i + 1) * per_tower]
                y = labels[i * per_tower:(i + 1) * per_tower]
                logits = model(x, reuse=i > 0, training=True)
                loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
                tower_grads.append(optimizer.compute_gradients(loss))
        train_op = optimizer.apply_gradients(average_gradients(tower_grads))
        eval_logits = model(images, reuse=True, training=False)
        correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(eval_logits, 1), labels), tf.int32))

    rng = np.random.RandomState(0)
    config = tf.ConfigProto(allow_soft_placement=True)
    with tf.Session(config=config) as sess:
        sess.run(tf.global_variables_initializer())
        for step, idx in _scaffolding.random_batches(rng, len(train_x), per_tower * args.num_gpus, args.steps):
            _, lv = sess.run([train_op, loss], {images: train_x[idx], labels: train_y[idx]})
            if step % 500 == 0 or step == args.steps - 1:
                print("step %d, last tower's loss %.4f" % (step, lv))
        total = _scaffolding.total_over_chunks(lambda x, y: sess.run(correct, {images: x, labels: y}), 2000,
                                               test_x, test_y)
    accuracy = total / float(len(test_y))
    print("test accuracy %.4f" % accuracy)
    return accuracy


if __name__ == "__main__":
    main()
