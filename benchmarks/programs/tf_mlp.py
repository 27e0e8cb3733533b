"""The tutorial on TensorFlow: ``tensorflow.compat.v1`` in graph mode.

Same graph, session, summaries and Saver as the nanotf program (both use
_tf1_tutorial.py); data from the shared IDX loader.
"""
import os

import _bench  # first: it notes the process start time
import _tf1_tutorial
import mnist_idx


def main():
    args = _bench.parse_args(__doc__)
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')  # no banner noise
    import tensorflow.compat.v1 as tf
    tf.disable_eager_execution()
    config = None
    if args.threads:
        config = tf.ConfigProto(intra_op_parallelism_threads=args.threads,
                                inter_op_parallelism_threads=args.threads)
    data_sets = mnist_idx.read_data_sets(args.data_dir, seed=args.seed)
    result = _tf1_tutorial.run_training(tf, args, data_sets, config)
    _bench.emit('tensorflow', args, result, framework_version=tf.__version__)


if __name__ == '__main__':
    main()
