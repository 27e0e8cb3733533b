"""Trains and evaluates the Mechanics 101 MNIST network with feed dictionaries.

    nanotf-mnist                      # or: python -m nanotf.examples.tutorials.mnist.fully_connected_feed
    nanotf-mnist --fake_data --max_steps 200
    nanotf-mnist --resume             # continue the latest run in --log_dir from its last checkpoint

Every 100 steps it prints the loss and writes it as a summary; every 1000 steps and at the end
it saves a checkpoint and evaluates on the training, validation and test sets. Each run writes
into a fresh directory under --log_dir (nothing of yours is ever deleted); point TensorBoard at
--log_dir to see every run.
"""
import argparse
import math
import os
import sys
import time

import nanotf as tf
from nanotf.examples.tutorials.mnist import input_data, mnist
from nanotf.examples.tutorials.mnist._common import default_data_dir, new_run_dir

FLAGS = None


def placeholder_inputs(batch_size):
    """Placeholders for one batch of images and labels; the batch size is part of their static shape."""
    images_placeholder = tf.placeholder(tf.float32, shape=(batch_size, mnist.IMAGE_PIXELS))
    labels_placeholder = tf.placeholder(tf.int32, shape=(batch_size))
    return images_placeholder, labels_placeholder


def fill_feed_dict(data_set, images_pl, labels_pl):
    """The feed for the next `batch_size` examples of `data_set`, keyed by the placeholders."""
    images_feed, labels_feed = data_set.next_batch(FLAGS.batch_size, FLAGS.fake_data)
    return {images_pl: images_feed, labels_pl: labels_feed}


def do_eval(sess, eval_correct, images_placeholder, labels_placeholder, data_set):
    """Runs one epoch of `data_set` through `eval_correct` and prints the precision @ 1."""
    true_count = 0
    steps_per_epoch = data_set.num_examples // FLAGS.batch_size
    num_examples = steps_per_epoch * FLAGS.batch_size
    for _ in range(steps_per_epoch):
        feed_dict = fill_feed_dict(data_set, images_placeholder, labels_placeholder)
        true_count += sess.run(eval_correct, feed_dict=feed_dict)
    precision = float(true_count) / num_examples
    print("  Num examples: %d  Num correct: %d  Precision @ 1: %0.04f" % (num_examples, true_count, precision))
    return precision


def _resume_dir(log_dir, resume):
    """The run directory to continue: the one named by --resume, else the latest with a checkpoint."""
    if resume not in (None, True, "latest"):
        if tf.train.latest_checkpoint(resume) is None:
            sys.exit("--resume %s: no checkpoint found in that directory." % resume)
        return resume
    runs = sorted((os.path.join(log_dir, d) for d in os.listdir(log_dir) if os.path.isdir(os.path.join(log_dir, d)))
                  if os.path.isdir(log_dir) else [], key=os.path.getmtime)
    runs = [r for r in runs if tf.train.latest_checkpoint(r)]
    if not runs:
        sys.exit("--resume: no run with a checkpoint under %s; start a new run without --resume." % log_dir)
    return runs[-1]


def run_training():
    """Builds the graph, then trains for FLAGS.max_steps, reporting, saving and evaluating on the way."""
    data_sets = input_data.read_data_sets(FLAGS.input_data_dir, FLAGS.fake_data, seed=FLAGS.seed,
                                          dataset=FLAGS.dataset)
    run_dir = _resume_dir(FLAGS.log_dir, FLAGS.resume) if FLAGS.resume else new_run_dir(FLAGS.log_dir)

    with tf.Graph().as_default():
        if FLAGS.seed is not None:
            tf.set_random_seed(FLAGS.seed)
        images_placeholder, labels_placeholder = placeholder_inputs(FLAGS.batch_size)
        logits = mnist.inference(images_placeholder, FLAGS.hidden1, FLAGS.hidden2)
        loss = mnist.loss(logits, labels_placeholder)
        train_op = mnist.training(loss, FLAGS.learning_rate)
        eval_correct = mnist.evaluation(logits, labels_placeholder)
        summary = tf.summary.merge_all()
        init = tf.global_variables_initializer()
        saver = tf.train.Saver()
        global_step = tf.train.get_global_step()
        checkpoint_file = os.path.join(run_dir, "model.ckpt")

        with tf.Session() as sess:
            start_step = 0
            if FLAGS.resume:
                state = tf.train.get_checkpoint_state(run_dir)
                saver.restore(sess, state.model_checkpoint_path)
                saver.recover_last_checkpoints(state.all_model_checkpoint_paths)
                start_step = int(sess.run(global_step))
                print("Resumed %s at step %d" % (state.model_checkpoint_path, start_step))
            else:
                sess.run(init)
            # A resumed run already has its graph in the run dir; the START log tells TensorBoard to
            # drop any steps logged after this checkpoint by the interrupted run.
            summary_writer = tf.summary.FileWriter(run_dir, None if FLAGS.resume else sess.graph)
            if FLAGS.resume:
                summary_writer.add_session_log(tf.SessionLog(status=tf.SessionLog.START), start_step)

            def stop_diverged(loss_value, step):
                summary_writer.close()
                last = tf.train.latest_checkpoint(run_dir)
                sys.exit("Training diverged: the loss is %s at step %d. The last good checkpoint is %s. "
                         "Try a smaller --learning_rate." % (loss_value, step, last or "(none saved yet)"))

            def save_and_evaluate(step, feed_dict):
                after = sess.run(loss, feed_dict=feed_dict)   # never save weights that already diverged
                if not math.isfinite(after):
                    stop_diverged(after, step + 1)
                saver.save(sess, checkpoint_file, global_step=step)
                for title, data_set in (("Training", data_sets.train), ("Validation", data_sets.validation),
                                        ("Test", data_sets.test)):
                    print("%s Data Eval:" % title)
                    do_eval(sess, eval_correct, images_placeholder, labels_placeholder, data_set)

            step = start_step - 1
            for step in range(start_step, FLAGS.max_steps):
                start_time = time.time()
                feed_dict = fill_feed_dict(data_sets.train, images_placeholder, labels_placeholder)
                if step % 100 == 0:   # the summary comes from the same run, so it logs the printed loss
                    _, loss_value, summary_str = sess.run([train_op, loss, summary], feed_dict=feed_dict)
                else:
                    _, loss_value = sess.run([train_op, loss], feed_dict=feed_dict)
                duration = time.time() - start_time
                if not math.isfinite(loss_value):
                    stop_diverged(loss_value, step)
                if step % 100 == 0:
                    print("Step %d: loss = %.2f (%.3f sec)" % (step, loss_value, duration))
                    summary_writer.add_summary(summary_str, step)
                    summary_writer.flush()
                if (step + 1) % 1000 == 0 or (step + 1) == FLAGS.max_steps:
                    save_and_evaluate(step, feed_dict)
            summary_writer.close()
            if step < start_step:
                print("Nothing to do: the checkpoint is already at step %d (--max_steps %d)." % (start_step,
                                                                                               FLAGS.max_steps))
    print("Logs and checkpoints: %s" % run_dir)
    print("See them in TensorBoard: tensorboard --logdir %s" % FLAGS.log_dir)
    return run_dir


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--learning_rate", type=float, default=0.01, help="Initial learning rate.")
    p.add_argument("--max_steps", type=int, default=2000, help="Number of steps to run trainer.")
    p.add_argument("--hidden1", type=int, default=128, help="Number of units in hidden layer 1.")
    p.add_argument("--hidden2", type=int, default=32, help="Number of units in hidden layer 2.")
    p.add_argument("--batch_size", type=int, default=100, help="Batch size; must divide the dataset sizes.")
    p.add_argument("--input_data_dir", type=str, default=None,
                   help="Directory for the dataset files (default: $NANOTF_DATA_DIR/<dataset> or "
                        "~/.cache/nanotf/<dataset>); missing files are downloaded there.")
    p.add_argument("--log_dir", type=str, default=os.path.join("runs", "fully_connected_feed"),
                   help="Directory under which each run gets its own subdirectory of logs and checkpoints.")
    p.add_argument("--fake_data", default=False, action="store_true",
                   help="Use fake data (no download) for unit testing.")
    p.add_argument("--seed", type=int, default=None, help="Seed for weights and batch order (reproducible runs).")
    p.add_argument("--dataset", choices=("mnist", "fashion_mnist"), default="mnist",
                   help="Which dataset: MNIST digits or the drop-in Fashion-MNIST.")
    p.add_argument("--resume", nargs="?", const=True, default=None, metavar="RUN_DIR",
                   help="Continue training from the last checkpoint of RUN_DIR (default: the latest run).")
    return p


def main(argv=None):
    global FLAGS
    FLAGS, unparsed = build_parser().parse_known_args(argv)
    if unparsed:
        print("Ignoring unknown arguments: %s" % " ".join(unparsed), file=sys.stderr)
    if FLAGS.input_data_dir is None:
        FLAGS.input_data_dir = default_data_dir(FLAGS.dataset)
    if FLAGS.batch_size <= 0 or FLAGS.max_steps < 0:
        sys.exit("--batch_size must be positive and --max_steps non-negative.")
    try:
        run_training()
    except input_data.DownloadError as e:
        sys.exit(str(e))
    return 0


if __name__ == "__main__":
    sys.exit(main())
