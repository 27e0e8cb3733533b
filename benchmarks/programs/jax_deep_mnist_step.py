"""Micro-benchmark: one training step of TF1's "Deep MNIST for Experts" network, written by hand in JAX.

    .venv/bin/python benchmarks/programs/jax_deep_mnist_step.py

The same network and step as deep_mnist_step.py: conv 5x5 1->32 (SAME) + bias + ReLU, max-pool 2x2,
conv 5x5 32->64, max-pool 2x2, fc 3136->1024 + ReLU, dropout (keep 0.5, a fresh mask every step),
fc 1024->10, mean softmax cross-entropy, TF's Adam(1e-4) (bias-corrected step size, epsilon 1e-8 outside
the square root); weights truncated normal (stddev 0.1), biases 0.1; batch 50 of random inputs. The step is
one jax.jit function with the parameters and Adam's slots donated. Each timed step fetches the loss as a
float (waiting for the step, as nanotf-XLA's `sess.run([train_step, loss])` does). Prints the median ms
per step over `--steps` after `--warmup`, and the same as one JSON line.
"""
import json
import statistics
import time

import numpy as np

from deep_mnist_step import step_parser


def init_params(jax, jnp, seed):
    shapes = [(5, 5, 1, 32), (5, 5, 32, 64), (7 * 7 * 64, 1024), (1024, 10)]
    keys = jax.random.split(jax.random.PRNGKey(seed), len(shapes))
    return [(0.1 * jax.random.truncated_normal(k, -2.0, 2.0, s, jnp.float32), jnp.full(s[-1], 0.1, jnp.float32))
            for k, s in zip(keys, shapes)]


def make_step(jax, jnp, lr=1e-4, beta1=0.9, beta2=0.999, epsilon=1e-8):
    lax = jax.lax

    def conv_relu_pool(h, w, b):
        h = lax.conv_general_dilated(h, w, (1, 1), 'SAME', dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
        h = jax.nn.relu(h + b)
        return lax.reduce_window(h, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), 'SAME')

    def loss_of(params, images, labels, key):
        (w1, b1), (w2, b2), (w3, b3), (w4, b4) = params
        h = conv_relu_pool(images.reshape(-1, 28, 28, 1), w1, b1)
        h = conv_relu_pool(h, w2, b2)
        h = jax.nn.relu(h.reshape(-1, 7 * 7 * 64) @ w3 + b3)
        keep = 0.5
        h = jnp.where(jax.random.uniform(key, h.shape) < keep, h / keep, 0.0)
        logits = h @ w4 + b4
        return -jnp.mean(jnp.sum(labels * jax.nn.log_softmax(logits), axis=1))

    base_key = jax.random.PRNGKey(2)

    def step(state, images, labels, i):
        params, m, v, t = state
        key = jax.random.fold_in(base_key, i)   # the step's dropout mask
        loss, grads = jax.value_and_grad(loss_of)(params, images, labels, key)
        t = t + 1
        lr_t = lr * jnp.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)   # TF's AdamOptimizer
        m = jax.tree_util.tree_map(lambda a, g: beta1 * a + (1 - beta1) * g, m, grads)
        v = jax.tree_util.tree_map(lambda a, g: beta2 * a + (1 - beta2) * g * g, v, grads)
        params = jax.tree_util.tree_map(lambda p, a, b: p - lr_t * a / (jnp.sqrt(b) + epsilon), params, m, v)
        return (params, m, v, t), loss

    return jax.jit(step, donate_argnums=(0,))


def main():
    args = step_parser(__doc__).parse_args()
    import jax
    import jax.numpy as jnp
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (args.batch_size, 784)).astype(np.float32)
    labels = np.eye(10, dtype=np.float32)[rng.integers(0, 10, args.batch_size)]
    params = init_params(jax, jnp, 1)
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    state = (params, zeros, jax.tree_util.tree_map(jnp.zeros_like, params), jnp.float32(0))
    step = make_step(jax, jnp)
    for i in range(args.warmup):
        state, loss = step(state, images, labels, i)
        float(loss)
    times = []
    for i in range(args.warmup, args.warmup + args.steps):
        start = time.perf_counter()
        state, loss = step(state, images, labels, i)
        float(loss)
        times.append((time.perf_counter() - start) * 1e3)
    final_loss = float(loss)
    median = statistics.median(times)
    print('jax: %.2f ms/step (median of %d; min %.2f), loss at step %d %.4f'
          % (median, len(times), min(times), args.warmup + args.steps, final_loss))
    quartiles = statistics.quantiles(times, n=4) if len(times) > 1 else times * 3
    print(json.dumps({'framework': 'jax', 'median_ms': round(median, 3), 'min_ms': round(min(times), 3),
                      'q1_ms': round(quartiles[0], 3), 'q3_ms': round(quartiles[2], 3),
                      'steps': len(times), 'batch_size': args.batch_size, 'final_loss': final_loss,
                      'jax_version': jax.__version__, 'jax_backend': jax.default_backend()}))


if __name__ == '__main__':
    main()
