"""The tutorial on nanotf: ``import nanotf as tf`` and TensorFlow 1.x's API.

Data comes from nanotf's own ``input_data.read_data_sets`` (as the tutorial's
does from TensorFlow's); the graph, session, summaries and Saver are the
tutorial's (see _tf1_tutorial.py, shared with the TensorFlow program).
With NANOTF_XLA=1 (run.py's "nanotf-xla") its Sessions run on the XLA backend.
"""
import _bench  # first: it notes the process start time
import _tf1_tutorial


def main():
    args = _bench.parse_args(__doc__)
    import nanotf as tf
    from nanotf.framework import environment
    from nanotf.examples.tutorials.mnist import input_data
    # seed: the same shuffles in every repeat (TF1's read_data_sets takes it too)
    data_sets = input_data.read_data_sets(args.data_dir, seed=args.seed)
    result = _tf1_tutorial.run_training(tf, args, data_sets)
    _bench.emit('nanotf-xla' if environment.xla() else 'nanotf', args, result, framework_version=tf.__version__)


if __name__ == '__main__':
    main()
