"""Trains and evaluates the Mechanics 101 MNIST network with feed dictionaries.

    nanotf-mnist                      # or: python -m nanotf.examples.tutorials.mnist.fully_connected_feed
    nanotf-mnist --fake_data --max_steps 200
    nanotf-mnist --resume             # continue the latest run in --log_dir from its last checkpoint

Every 100 steps it prints the loss and writes it as a summary; every 1000 steps and at the end
it saves a checkpoint and evaluates on the training, validation and test sets. Each run writes
into a fresh directory under --log_dir (nothing of yours is ever deleted); point TensorBoard at
--log_dir to see every run. Mistakes (a bad flag, a corrupt data file, a full disk, Ctrl-C) end
in one line on stderr saying what to do; see _common.run_command for the exit statuses.
"""
import math
import os
import sys
import time

import nanotf as tf
from nanotf.examples.tutorials.mnist import input_data, mnist
from nanotf.examples.tutorials.mnist._common import (EXIT_INTERRUPTED, CommandError, RunDirectory,
                                                     add_data_dir_flag, data_dir_of, in_cluster, local_rows,
                                                     make_parser, non_negative_int, positive_float,
                                                     positive_int, run_command, seed_value, session_config)

FLAGS = None


def placeholder_inputs(batch_size):
    """Placeholders for one batch of images and labels; the batch size is part of their static shape (None in
    a cluster, where a process feeds its rows of the batch and the step sees the whole batch)."""
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


PROG = "nanotf-mnist"


def _resume_dir(log_dir, resume):
    """The run directory to continue: the one named by --resume, else the latest with a checkpoint."""
    if resume not in (None, True, "latest"):
        if not os.path.isdir(resume):
            raise CommandError("--resume %s: no such directory" % resume)
        if tf.train.latest_checkpoint(resume) is None:
            raise CommandError("--resume %s: no checkpoint found in that directory" % resume)
        return resume
    runs = sorted((os.path.join(log_dir, d) for d in os.listdir(log_dir) if os.path.isdir(os.path.join(log_dir, d)))
                  if os.path.isdir(log_dir) else [], key=os.path.getmtime)
    runs = [r for r in runs if tf.train.latest_checkpoint(r)]
    if not runs:
        raise CommandError("--resume: no run with a checkpoint under --log_dir %s; start a new run without "
                           "--resume, or name the run directory: --resume RUN_DIR" % log_dir)
    return runs[-1]


def _check_batch_size(data_sets):
    """Each evaluation runs num_examples // batch_size whole batches, so every set must hold one."""
    title, smallest = min((("training", data_sets.train.num_examples),
                           ("validation", data_sets.validation.num_examples),
                           ("test", data_sets.test.num_examples)), key=lambda t: t[1])
    if FLAGS.batch_size > smallest:
        raise CommandError("--batch_size %d: larger than the %s set (%d examples), and each evaluation needs "
                           "one whole batch of every set; use at most %d" % (FLAGS.batch_size, title, smallest,
                                                                            smallest))


def run_training():
    """Builds the graph, then trains for FLAGS.max_steps, reporting, saving and evaluating on the way.
    Returns the run directory, or None when there was nothing to do."""
    if not FLAGS.resume and FLAGS.max_steps == 0:
        print("Nothing to do: --max_steps 0 trains no step (no run directory was created).")
        return None
    data_dir = data_dir_of(FLAGS, "--input_data_dir", FLAGS.dataset)
    data_sets = input_data.read_data_sets(data_dir, FLAGS.fake_data, seed=FLAGS.seed,
                                          dataset=FLAGS.dataset)
    _check_batch_size(data_sets)
    data_sets = local_rows(data_sets, FLAGS)
    if FLAGS.resume:
        run = RunDirectory.existing(_resume_dir(FLAGS.log_dir, FLAGS.resume))
    else:
        run = RunDirectory.create(FLAGS.log_dir)
    with run:
        _train(data_sets, run)
    print("Logs and checkpoints: %s" % run.path)
    print("See them in TensorBoard: tensorboard --logdir %s" % FLAGS.log_dir)
    return run.path


def _interrupted(step, run_dir):
    """The line for Ctrl-C during training step `step`."""
    last = tf.train.latest_checkpoint(run_dir)
    if last:
        return ("interrupted (Ctrl-C) at step %d; the latest checkpoint is %s; `%s --resume %s` with the same "
                "flags continues from it" % (step, last, PROG, run_dir))
    return ("interrupted (Ctrl-C) at step %d, before the first checkpoint; the logs so far are in %s, and there "
            "is nothing to resume: start a new run" % (step, run_dir))


def _train(data_sets, run):
    run_dir = run.path
    with tf.Graph().as_default():
        if FLAGS.seed is not None:
            tf.set_random_seed(FLAGS.seed)
        images_placeholder, labels_placeholder = placeholder_inputs(None if in_cluster(FLAGS) else FLAGS.batch_size)
        logits = mnist.inference(images_placeholder, FLAGS.hidden1, FLAGS.hidden2)
        loss = mnist.loss(logits, labels_placeholder)
        train_op = mnist.training(loss, FLAGS.learning_rate)
        eval_correct = mnist.evaluation(logits, labels_placeholder)
        summary = tf.summary.merge_all()
        init = tf.global_variables_initializer()
        saver = tf.train.Saver()
        global_step = tf.train.get_global_step()
        checkpoint_file = os.path.join(run_dir, "model.ckpt")

        with tf.Session(config=session_config(FLAGS)) as sess:
            start_step = 0
            if FLAGS.resume:
                state = tf.train.get_checkpoint_state(run_dir)
                try:
                    saver.restore(sess, state.model_checkpoint_path)
                except tf.errors.OpError as e:   # a damaged file, or other layer sizes than the first run
                    hint = (" (resume with the --hidden1/--hidden2 of the first run)"
                            if isinstance(e, tf.errors.InvalidArgumentError) else "")
                    raise CommandError("--resume: cannot restore %s: %s%s" % (
                        state.model_checkpoint_path, " ".join(e.message.split()), hint)) from e
                saver.recover_last_checkpoints(state.all_model_checkpoint_paths)
                start_step = int(sess.run(global_step))
                print("Resumed %s at step %d" % (state.model_checkpoint_path, start_step))
                if start_step >= FLAGS.max_steps:
                    print("Nothing to do: the checkpoint is already at step %d (--max_steps %d)."
                          % (start_step, FLAGS.max_steps))
                    return
            else:
                sess.run(init)
            # A resumed run already has its graph in the run dir; the START log tells TensorBoard to
            # drop any steps logged after this checkpoint by the interrupted run.
            summary_writer = tf.summary.FileWriter(run_dir, None if FLAGS.resume else sess.graph)
            try:
                if FLAGS.resume:
                    summary_writer.add_session_log(tf.SessionLog(status=tf.SessionLog.START), start_step)
                _loop(sess, saver, data_sets, run, start_step, summary_writer, checkpoint_file,
                      (images_placeholder, labels_placeholder, loss, train_op, eval_correct, summary))
            finally:
                summary_writer.close()   # whatever happens, the steps logged so far reach the disk


def _loop(sess, saver, data_sets, run, start_step, summary_writer, checkpoint_file, graph):
    images_placeholder, labels_placeholder, loss, train_op, eval_correct, summary = graph
    run_dir = run.path

    def stop_diverged(loss_value, step):
        last = tf.train.latest_checkpoint(run_dir)
        raise CommandError("Training diverged: the loss is %s at step %d. The last good checkpoint is %s. "
                           "Try a smaller --learning_rate." % (loss_value, step, last or "(none saved yet)"))

    def save_and_evaluate(step, feed_dict):
        after = sess.run(loss, feed_dict=feed_dict)   # never save weights that already diverged
        if not math.isfinite(after):
            stop_diverged(after, step + 1)
        try:
            saver.save(sess, checkpoint_file, global_step=step)
        except OSError as e:
            last = tf.train.latest_checkpoint(run_dir)
            raise CommandError("cannot save the checkpoint of step %d in %s: %s; %s" % (
                step, run_dir, e.strerror or e,
                "the latest checkpoint is still %s (`%s --resume %s` continues from it once there is room)"
                % (last, PROG, run_dir) if last else "no checkpoint of this run was saved")) from e
        for title, data_set in (("Training", data_sets.train), ("Validation", data_sets.validation),
                                ("Test", data_sets.test)):
            print("%s Data Eval:" % title)
            do_eval(sess, eval_correct, images_placeholder, labels_placeholder, data_set)

    step = start_step
    try:
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
            run.worked()
            if step % 100 == 0:
                print("Step %d: loss = %.2f (%.3f sec)" % (step, loss_value, duration))
                summary_writer.add_summary(summary_str, step)
                summary_writer.flush()
            if (step + 1) % 1000 == 0 or (step + 1) == FLAGS.max_steps:
                save_and_evaluate(step, feed_dict)
    except KeyboardInterrupt:
        raise CommandError(_interrupted(step, run_dir), EXIT_INTERRUPTED) from None


def build_parser():
    p = make_parser(PROG, __doc__)
    p.add_argument("--learning_rate", type=positive_float, default=0.01, help="Initial learning rate.")
    p.add_argument("--max_steps", type=non_negative_int, default=2000, help="Number of steps to run trainer.")
    p.add_argument("--hidden1", type=positive_int, default=128, help="Number of units in hidden layer 1.")
    p.add_argument("--hidden2", type=positive_int, default=32, help="Number of units in hidden layer 2.")
    p.add_argument("--batch_size", type=positive_int, default=100,
                   help="Batch size, at most the smallest set (5000 validation examples). Each evaluation runs "
                        "num_examples // batch_size whole batches, as TensorFlow's do_eval does, so with a size "
                        "that does not divide a set's size the last partial batch is left out (Num examples "
                        "says how many were used).")
    add_data_dir_flag(p, "--input_data_dir", dataset="<dataset>")
    p.add_argument("--log_dir", type=str, default=os.path.join("runs", "fully_connected_feed"),
                   help="Directory under which each run gets its own subdirectory of logs and checkpoints.")
    p.add_argument("--fake_data", default=False, action="store_true",
                   help="Use fake data (no download) for unit testing.")
    p.add_argument("--seed", type=seed_value, default=None,
                   help="Seed for weights and batch order (reproducible runs).")
    p.add_argument("--dataset", choices=("mnist", "fashion_mnist"), default="mnist",
                   help="Which dataset: MNIST digits or the drop-in Fashion-MNIST.")
    p.add_argument("--resume", nargs="?", const=True, default=None, metavar="RUN_DIR",
                   help="Continue training from the last checkpoint of RUN_DIR (default: the latest run under "
                        "--log_dir); give the same flags as the first run.")
    return p


def _run(flags):
    global FLAGS
    FLAGS = flags
    return run_training()


def main(argv=None):
    """The nanotf-mnist command: returns the exit status (0, 1 after an error, 2 for a bad flag, 130 after
    Ctrl-C); errors are one line on stderr."""
    return run_command(build_parser(), _run, argv)


if __name__ == "__main__":
    sys.exit(main())
