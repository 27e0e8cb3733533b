"""The "TensorFlow Mechanics 101" graph and session, written once for any
module with TensorFlow 1.x's API (``nanotf`` or ``tensorflow.compat.v1``),
so that the nanotf and TensorFlow programs build and run the same graph.

The graph code follows the tutorial's mnist.py (inference, loss, training,
evaluation) and fully_connected_feed.py (placeholders, summaries, Saver).
"""
import math
import os

import _bench


def inference(tf, images, hidden1_units, hidden2_units):
    """mnist.py's three layers, in its name scopes, with its initializers, and its ops in the same order."""
    layers = [('hidden1', _bench.IMAGE_PIXELS, hidden1_units, tf.nn.relu),
              ('hidden2', hidden1_units, hidden2_units, tf.nn.relu),
              ('softmax_linear', hidden2_units, _bench.NUM_CLASSES, None)]
    x = images
    for scope, fan_in, fan_out, activation in layers:
        with tf.name_scope(scope):
            weights = tf.Variable(tf.truncated_normal([fan_in, fan_out], stddev=1.0 / math.sqrt(float(fan_in))),
                                  name='weights')
            biases = tf.Variable(tf.zeros([fan_out]), name='biases')
            x = tf.matmul(x, weights) + biases
            if activation is not None:
                x = activation(x)
    return x


def loss(tf, logits, labels):
    labels = tf.to_int64(labels)
    cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=labels, logits=logits, name='xentropy')
    return tf.reduce_mean(cross_entropy, name='xentropy_mean')


def training(tf, loss_tensor, learning_rate):
    tf.summary.scalar('loss', loss_tensor)
    optimizer = tf.train.GradientDescentOptimizer(learning_rate)
    global_step = tf.Variable(0, name='global_step', trainable=False)
    return optimizer.minimize(loss_tensor, global_step=global_step)


def evaluation(tf, logits, labels):
    correct = tf.nn.in_top_k(logits, labels, 1)
    return tf.reduce_sum(tf.cast(correct, tf.int32))


def run_training(tf, args, data_sets, session_config=None):
    """Builds the graph, trains and evaluates; returns the measurements."""
    with tf.Graph().as_default():
        tf.set_random_seed(args.seed)
        images_placeholder = tf.placeholder(
            tf.float32, shape=(args.batch_size, _bench.IMAGE_PIXELS))
        labels_placeholder = tf.placeholder(tf.int32, shape=(args.batch_size))
        logits = inference(tf, images_placeholder, args.hidden1, args.hidden2)
        loss_tensor = loss(tf, logits, labels_placeholder)
        train_op = training(tf, loss_tensor, args.learning_rate)
        eval_correct = evaluation(tf, logits, labels_placeholder)
        summary = tf.summary.merge_all()
        init = tf.global_variables_initializer()
        saver = tf.train.Saver()
        sess = tf.Session(config=session_config) if session_config else tf.Session()
        summary_writer = tf.summary.FileWriter(args.log_dir, sess.graph)
        sess.run(init)

        def train_step(images, labels):
            _, loss_value = sess.run(
                [train_op, loss_tensor],
                feed_dict={images_placeholder: images,
                           labels_placeholder: labels})
            return loss_value

        def on_status(step, images, labels):
            summary_str = sess.run(summary, feed_dict={
                images_placeholder: images, labels_placeholder: labels})
            summary_writer.add_summary(summary_str, step)
            summary_writer.flush()

        def checkpoint(step):
            checkpoint_file = os.path.join(args.log_dir, 'model.ckpt')
            saver.save(sess, checkpoint_file, global_step=step)

        def eval_batch(images, labels):
            return sess.run(eval_correct, feed_dict={
                images_placeholder: images, labels_placeholder: labels})

        result = _bench.train_and_evaluate(args, data_sets, train_step,
                                           eval_batch, checkpoint, on_status)
        summary_writer.close()
        sess.close()
        return result

