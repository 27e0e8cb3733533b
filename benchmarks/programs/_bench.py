"""What every benchmark program shares: flags, the training loop, timing and
the one JSON line a program prints at the end.

Each program only supplies its framework's pieces (a train step, an eval
batch, a checkpoint, optionally a summary) to ``train_and_evaluate``, so the
loop, the eval/checkpoint cadence and what is timed are the same for all.
Standard library + NumPy only: this module is imported from every venv.
"""
import argparse
import ctypes
import json
import os
import resource
import sys
import time

# The two workloads.  ``checkpoint_every`` 0 = checkpoint + eval only at the
# last step; otherwise also whenever (step + 1) % checkpoint_every == 0.
CONFIGS = {
    'tutorial': dict(hidden1=128, hidden2=32, batch_size=100, max_steps=2000,
                     learning_rate=0.01, checkpoint_every=1000),
    'scale': dict(hidden1=1024, hidden2=1024, batch_size=1000, max_steps=500,
                  learning_rate=0.01, checkpoint_every=0),
}
LOG_EVERY = 100
IMAGE_PIXELS = 784
NUM_CLASSES = 10
RESULT_PREFIX = 'BENCH_RESULT '
T0_ENV = 'BENCH_T0_NS'  # the harness's time.monotonic_ns() just before spawning


def _process_start_ns():
    """Monotonic ns at which this process started.

    The harness passes its own clock reading (CLOCK_MONOTONIC is system-wide
    on Linux); run by hand, fall back to /proc's start time (10 ms ticks).
    """
    if T0_ENV in os.environ:
        return int(os.environ[T0_ENV])
    try:
        with open('/proc/self/stat') as f:
            fields = f.read().rsplit(')', 1)[1].split()
        ticks = int(fields[19])  # field 22 (starttime), after pid and comm
        boot = time.clock_gettime_ns(time.CLOCK_BOOTTIME)
        age = boot - ticks * 10**9 // os.sysconf('SC_CLK_TCK')
        return time.monotonic_ns() - age
    except (OSError, ValueError, IndexError, AttributeError):
        return time.monotonic_ns()


PROCESS_START_NS = _process_start_ns()


def parse_args(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument('--config', choices=sorted(CONFIGS), default='tutorial')
    p.add_argument('--data_dir', default='/work/shared/data/mnist')
    p.add_argument('--log_dir', default=None,
                   help='checkpoints and event files (default: a temp dir)')
    p.add_argument('--threads', type=int, default=0,
                   help='intra-op threads for the framework (0: its default)')
    p.add_argument('--seed', type=int, default=1)
    for key in ('hidden1', 'hidden2', 'batch_size', 'max_steps',
                'checkpoint_every'):
        p.add_argument('--' + key, type=int, default=None)
    p.add_argument('--learning_rate', type=float, default=None)
    args = p.parse_args()
    for key, value in CONFIGS[args.config].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.log_dir is None:
        import tempfile
        args.log_dir = tempfile.mkdtemp(prefix='bench_%s_' % args.config)
    os.makedirs(args.log_dir, exist_ok=True)
    return args


def is_checkpoint_step(step, args):
    """The tutorial's test: (step + 1) % 1000 == 0 or (step + 1) == max_steps."""
    every = args.checkpoint_every
    return (every and (step + 1) % every == 0) or step + 1 == args.max_steps


def truncated_normal(rng, shape, stddev):
    """float32 normal(0, stddev) redrawn beyond 2 stddev (TF's truncated_normal)."""
    import numpy as np
    x = rng.standard_normal(shape)
    bad = np.abs(x) > 2.0
    while bad.any():
        x[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(x) > 2.0
    return (x * stddev).astype(np.float32)


def train_and_evaluate(args, data_sets, train_step, eval_batch, checkpoint,
                       on_status=None):
    """The tutorial's loop; returns the measurements.

    ``train_step(images, labels) -> loss`` (a host scalar: every program
    brings the loss back each step, as the tutorial's ``sess.run([train_op,
    loss])`` does); ``eval_batch(images, labels) -> number correct``;
    ``checkpoint(step)``; ``on_status(step, images, labels)`` writes the
    summary.  Evaluation uses the training batch size and ``next_batch`` on
    each data set, as the tutorial's ``do_eval`` does.  A step's time covers fetching its batch and running it, as the
    tutorial's ``duration`` does; status, checkpoint and eval are not in it.
    """
    clock = time.perf_counter
    step_ms = []
    losses = {}
    precision = {}
    t = {'status': 0.0, 'checkpoint': 0.0, 'eval': 0.0}
    eval_examples = 0
    step0_end_s = None
    train_set = data_sets.train
    batch = args.batch_size
    for step in range(args.max_steps):
        start = clock()
        images, labels = train_set.next_batch(batch)
        loss_value = train_step(images, labels)
        step_ms.append((clock() - start) * 1e3)
        if step == 0:
            step0_end_s = (time.monotonic_ns() - PROCESS_START_NS) / 1e9
        if step % LOG_EVERY == 0:
            s = clock()
            loss_value = float(loss_value)
            losses[step] = loss_value
            print('Step %d: loss = %.2f (%.3f sec)'
                  % (step, loss_value, step_ms[-1] / 1e3), flush=True)
            if on_status is not None:
                on_status(step, images, labels)
            t['status'] += clock() - s
        if is_checkpoint_step(step, args):
            s = clock()
            checkpoint(step)
            t['checkpoint'] += clock() - s
            s = clock()
            precision[step + 1] = {}
            for name, data_set in zip(('train', 'validation', 'test'),
                                      data_sets):
                steps = data_set.num_examples // batch
                correct = 0
                for _ in range(steps):
                    correct += int(eval_batch(*data_set.next_batch(batch)))
                n = steps * batch
                eval_examples += n
                precision[step + 1][name] = correct / n
                print('  %s: Num examples: %d  Num correct: %d  '
                      'Precision @ 1: %0.04f' % (name, n, correct, correct / n),
                      flush=True)
            t['eval'] += clock() - s
    last = max(precision) if precision else None
    return {
        'step_ms': [round(v, 4) for v in step_ms],
        'step0_end_s': step0_end_s,
        'losses': losses,
        'precision': precision,
        'final_test_precision': precision[last]['test'] if last else None,
        'eval_examples': eval_examples,
        'eval_s': t['eval'],
        'eval_examples_per_s': eval_examples / t['eval'] if t['eval'] else None,
        'checkpoint_s': t['checkpoint'],
        'status_s': t['status'],
    }


def blas_info():
    """Which BLAS the process loaded, and its kernel (core) and threads.

    threadpoolctl where installed; otherwise OpenBLAS's own getters, found
    in the libraries mapped into this process.
    """
    try:
        import threadpoolctl
        return [{k: v for k, v in info.items()
                 if k in ('internal_api', 'version', 'architecture',
                          'num_threads', 'filepath', 'threading_layer')}
                for info in threadpoolctl.threadpool_info()]
    except ImportError:
        pass
    found = []
    try:
        with open('/proc/self/maps') as f:
            paths = sorted({line.split()[-1] for line in f
                            if 'openblas' in line.lower() and '/' in line})
    except OSError:
        return found
    for path in paths:
        lib = ctypes.CDLL(path)
        info = {'internal_api': 'openblas', 'filepath': path}
        for prefix, suffix in (('scipy_', '64_'), ('', '64_'), ('', '')):
            name = prefix + 'openblas_get_corename' + suffix
            if hasattr(lib, name):
                for key, getter in (('architecture', 'get_corename'),
                                    ('config', 'get_config')):
                    fn = getattr(lib, prefix + 'openblas_' + getter + suffix)
                    fn.restype = ctypes.c_char_p
                    info[key] = fn().decode()
                info['num_threads'] = getattr(
                    lib, prefix + 'openblas_get_num_threads' + suffix)()
                info['version'] = info['config'].split()[1]
                break
        found.append(info)
    return found


def emit(program, args, result, **extra):
    """Print the program's one JSON result line (prefixed for the harness)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result = dict(result)
    result.update(program=program, config=args.config,
                  hyperparameters={k: getattr(args, k) for k in (
                      'hidden1', 'hidden2', 'batch_size', 'max_steps',
                      'learning_rate', 'checkpoint_every')},
                  peak_rss_self_mb=usage.ru_maxrss / 1024.0,
                  python=sys.version.split()[0],
                  blas=blas_info(),
                  openblas_env={k: os.environ.get(k) for k in (
                      'OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE')},
                  **extra)
    sys.stdout.flush()
    print(RESULT_PREFIX + json.dumps(result), flush=True)
