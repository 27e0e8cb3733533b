"""The theoretical ms/step floor of the MLP: only its matrix products.

One SGD step of the tutorial graph needs 8 matrix products: 3 forward
(x@W1, h1@W2, h2@W3) and 5 backward (dW3 = h2^T g3, dh2 = g3 W3^T,
dW2 = h1^T g2, dh1 = g2 W2^T, dW1 = x^T g1; the input needs no gradient).
This times NumPy's float32 matmul on exactly those shapes (and transposed
views, as a backward pass uses them) in this process, so the BLAS kernel and
thread count are whatever this process's environment gives.  Prints one JSON
line: FLOPs per step, the measured rate on these shapes, and
floor ms/step = FLOPs / rate (= the sum of the 8 measured times).

    python benchmarks/floor.py --hidden1 128 --hidden2 32 --batch_size 100
"""
import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                'programs'))
import _bench  # noqa: E402  (blas_info)


def step_gemms(batch, hidden1, hidden2, pixels=784, classes=10):
    """(name, a, b) for the step's 8 products, with float32 operands."""
    rng = np.random.default_rng(0)

    def rand(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    x, h1, h2 = rand(batch, pixels), rand(batch, hidden1), rand(batch, hidden2)
    w1, w2, w3 = rand(pixels, hidden1), rand(hidden1, hidden2), rand(hidden2, classes)
    g1, g2, g3 = rand(batch, hidden1), rand(batch, hidden2), rand(batch, classes)
    return [
        ('x @ W1', x, w1), ('h1 @ W2', h1, w2), ('h2 @ W3', h2, w3),
        ('h2^T @ g3 (dW3)', h2.T, g3), ('g3 @ W3^T (dh2)', g3, w3.T),
        ('h1^T @ g2 (dW2)', h1.T, g2), ('g2 @ W2^T (dh1)', g2, w2.T),
        ('x^T @ g1 (dW1)', x.T, g1),
    ]


def time_matmul(a, b, budget_s=0.15):
    """Seconds of one ``np.matmul(a, b, out=)``: the fastest of several timed
    batches of calls (small products take microseconds, below the clock's
    useful resolution).  The fastest, not the median: this is a floor, and
    on a shared machine slower batches measure the neighbours."""
    out = np.empty((a.shape[0], b.shape[1]), np.float32)
    for _ in range(3):
        np.matmul(a, b, out=out)  # warm up caches and BLAS threads
    start = time.perf_counter()
    np.matmul(a, b, out=out)
    one = max(time.perf_counter() - start, 1e-7)
    calls = max(1, min(1000, int(0.01 / one)))  # ~10 ms per sample
    samples = []
    deadline = time.perf_counter() + budget_s
    while len(samples) < 5 or (time.perf_counter() < deadline
                               and len(samples) < 50):
        start = time.perf_counter()
        for _ in range(calls):
            np.matmul(a, b, out=out)
        samples.append((time.perf_counter() - start) / calls)
    return min(samples)


def measure(batch, hidden1, hidden2):
    rows = []
    for name, a, b in step_gemms(batch, hidden1, hidden2):
        flops = 2 * a.shape[0] * a.shape[1] * b.shape[1]
        seconds = time_matmul(a, b)
        rows.append({'gemm': name, 'm': a.shape[0], 'k': a.shape[1],
                     'n': b.shape[1], 'flops': flops, 'ms': seconds * 1e3,
                     'gflops_per_s': flops / seconds / 1e9})
    flops = sum(r['flops'] for r in rows)
    seconds = sum(r['ms'] for r in rows) / 1e3
    big = np.ones((1024, 1024), np.float32)
    big_s = time_matmul(big, big, budget_s=0.3)
    return {
        'batch_size': batch, 'hidden1': hidden1, 'hidden2': hidden2,
        'gemms': rows,
        'flops_per_step': flops,
        'gemm_gflops_per_s': flops / seconds / 1e9,
        'floor_ms_per_step': seconds * 1e3,
        'square_1024_gflops_per_s': 2 * 1024 ** 3 / big_s / 1e9,
        'blas': _bench.blas_info(),
        'openblas_env': {k: os.environ.get(k) for k in (
            'OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE')},
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--batch_size', type=int, default=100)
    p.add_argument('--hidden1', type=int, default=128)
    p.add_argument('--hidden2', type=int, default=32)
    args = p.parse_args()
    print(json.dumps(measure(args.batch_size, args.hidden1, args.hidden2)))


if __name__ == '__main__':
    main()
