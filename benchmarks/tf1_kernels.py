"""The kernels behind the TF 1.x-style programs that are still slower than TensorFlow, one at a time.

    .venv/bin/python benchmarks/tf1_kernels.py               # 3 rounds, results/tf1_kernels.{md,json}
    .venv/bin/python benchmarks/tf1_kernels.py --rounds 1    # a quick look

tf1_lockstep.py says which programs are slower (the DCGAN, the VAE, the CNN); this says where: each case
builds the same small graph on nanotf and on TensorFlow 2.21 compat.v1 (the layer shapes of those programs;
operands are variables, as activations are in a program: nanotf does not fuse a constant's producer)
and times `Session.run` of an op that groups the kernel's result, so nothing is copied out (TensorFlow's
graph optimizer, which would prune such a kernel, is off; a kernel's own graph has nothing else to optimize). A round runs a
worker process per framework, in turn, the other one first every other round (the machine's drifts hit both
alike); a worker warms each case up,
then gives its median over 40 runs. The table gives the median over rounds and the ratio nanotf / TF.
A run's time includes each framework's per-run overhead (tens of microseconds; TensorFlow's is larger).
TensorFlow runs from benchmarks/.venvs/tf (benchmarks/setup_peers.sh tf).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import results  # noqa: E402  (results/*.md and .json)
import tf1_programs  # noqa: E402  (TF_PYTHON, frameworks())

RUNS = 40


def _conv_cases(tf, rng, label, x_shape, w_shape, stride):
    """Forward, input gradient and filter gradient of one convolution layer (SAME padding)."""
    x = tf.Variable(rng.rand(*x_shape).astype('float32'))
    w = tf.Variable((rng.rand(*w_shape) * 0.01).astype('float32'))
    y = tf.nn.conv2d(x, w, [1, stride, stride, 1], 'SAME')
    dy = tf.Variable(rng.rand(*y.shape.as_list()).astype('float32'))
    gx, gw = tf.gradients(y, [x, w], grad_ys=dy)
    return [(label + ' forward', y), (label + ' input gradient', gx), (label + ' filter gradient', gw)]


def _relu_pool_cases(tf, rng, label, x_shape):
    """ReLU then 2x2 max pooling (a conv layer's activation and pool), forward and forward + gradient."""
    x = tf.Variable(rng.randn(*x_shape).astype('float32'))
    y = tf.nn.max_pool(tf.nn.relu(x), [1, 2, 2, 1], [1, 2, 2, 1], 'SAME')
    dy = tf.Variable(rng.rand(*y.shape.as_list()).astype('float32'))
    gx, = tf.gradients(y, [x], grad_ys=dy)
    return [(label + ' forward', y), (label + ' forward + gradient', gx)]


def _dense_cases(tf, rng, label, x_shape, units):
    """A dense layer's product forward and its two gradients (of the input, of the weights)."""
    x = tf.Variable(rng.rand(*x_shape).astype('float32'))
    w = tf.Variable((rng.rand(x_shape[1], units) * 0.01).astype('float32'))
    y = tf.matmul(x, w)
    dy = tf.Variable(rng.rand(x_shape[0], units).astype('float32'))
    gx, gw = tf.gradients(y, [x, w], grad_ys=dy)
    return [(label + ' forward', y), (label + ' input gradient', gx), (label + ' weight gradient', gw)]


def _adam_case(tf, rng, label, shape):
    """One Adam update of a variable from a gradient held in another variable (the update alone, no product)."""
    v = tf.Variable(rng.randn(*shape).astype('float32'))
    g = tf.Variable((rng.randn(*shape) * 0.01).astype('float32'))
    return [(label, tf.train.AdamOptimizer(1e-3).apply_gradients([(g, v)]))]


def cases(tf, rng):
    """[(name, tensor or op)] in the table's order."""
    return (_conv_cases(tf, rng, 'DCGAN conv 14x14x32 -> 7x7x64, 5x5 stride 2, 64 images',
                        (64, 14, 14, 32), (5, 5, 32, 64), 2)
            + _conv_cases(tf, rng, 'CNN conv 28x28x1 -> 28x28x32, 5x5 stride 1, 100 images',
                          (100, 28, 28, 1), (5, 5, 1, 32), 1)
            + _conv_cases(tf, rng, 'CNN conv 14x14x32 -> 14x14x64, 5x5 stride 1, 100 images',
                          (100, 14, 14, 32), (5, 5, 32, 64), 1)
            + _relu_pool_cases(tf, rng, 'CNN ReLU + 2x2 max pool of 28x28x32, 100 images', (100, 28, 28, 32))
            + _relu_pool_cases(tf, rng, 'CNN ReLU + 2x2 max pool of 14x14x64, 100 images', (100, 14, 14, 64))
            + _dense_cases(tf, rng, 'CNN dense 3136 -> 1024, 100 images', (100, 3136), 1024)
            + _dense_cases(tf, rng, 'VAE dense 784 -> 512, 128 images', (128, 784), 512)
            + _adam_case(tf, rng, 'Adam update of 784x512 (VAE)', (784, 512))
            + _adam_case(tf, rng, 'Adam update of 3136x1024 (CNN dense layer)', (3136, 1024)))


def worker(framework):
    """Times every case on `framework`; prints {name: median ms} as JSON."""
    import numpy as np
    if framework == 'tensorflow':
        import tensorflow.compat.v1 as tf
        tf.disable_v2_behavior()
    else:
        sys.path.insert(0, ROOT)
        import nanotf as tf
    timings = {}
    with tf.Graph().as_default():
        built = cases(tf, np.random.RandomState(0))
        config = None
        if framework == 'tensorflow':   # grappler would prune a kernel whose result only an op's control input reads
            config = tf.ConfigProto()
            config.graph_options.rewrite_options.disable_meta_optimizer = True
        sess = tf.Session(config=config)
        sess.run(tf.global_variables_initializer())
        for name, t in built:
            run = tf.group(t)   # an op: the kernel runs, nothing is fetched
            for _ in range(5):
                sess.run(run)
            times = []
            for _ in range(RUNS):
                start = time.perf_counter()
                sess.run(run)
                times.append(time.perf_counter() - start)
            timings[name] = statistics.median(times) * 1e3
    print(json.dumps(timings))


def _run_worker(framework):
    python = tf1_programs.TF_PYTHON if framework == 'tensorflow' else sys.executable
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
    out = subprocess.run([python, os.path.abspath(__file__), '--worker', framework], env=env,
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit('%s worker failed: %s' % (framework, (out.stderr or out.stdout).strip()[-500:]))
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--out', default=os.path.join(HERE, 'results', 'tf1_kernels'))
    parser.add_argument('--worker', choices=['nanotf', 'tensorflow'], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return
    if args.rounds < 1:
        parser.error('--rounds must be at least 1')
    frameworks = tf1_programs.frameworks()   # says so where the TensorFlow venv is missing
    rounds = {f: [] for f in frameworks}
    for r in range(args.rounds):
        for f in (frameworks if r % 2 == 0 else frameworks[::-1]):   # each goes first every other round
            rounds[f].append(_run_worker(f))
            print('round %d %s done' % (r + 1, f), flush=True)
    names = list(rounds['nanotf'][0])
    median = {f: {n: statistics.median(rd[n] for rd in rounds[f]) for n in names} for f in frameworks}
    lines = ['# Kernels of the slower TF 1.x-style programs, nanotf and TensorFlow 2.21 compat.v1', '',
             'Made by `benchmarks/tf1_kernels.py` on %s, %d rounds. ms per `Session.run` of one kernel '
             '(median of %d runs in a round, then median over rounds).' % (results.machine(), args.rounds, RUNS),
             '', '| kernel | nanotf ms | TensorFlow ms | nanotf / TF |', '|---|---|---|---|']
    for n in names:
        tf_ms = median.get('tensorflow', {}).get(n)
        lines.append('| %s | %.2f | %s | %s |' % (n, median['nanotf'][n], 'n/a' if tf_ms is None else '%.2f' % tf_ms,
                                               'n/a' if tf_ms is None else '%.2f' % (median['nanotf'][n] / tf_ms)))
    text = '\n'.join(lines) + '\n'
    print(text)
    results.write(args.out, text, {'machine': results.machine(), 'rounds': rounds})


if __name__ == '__main__':
    main()
