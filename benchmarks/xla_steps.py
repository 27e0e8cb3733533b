"""One SGD training step on nanotf's XLA backend against the same step written by hand in JAX (jax.jit,
parameters donated), in one invocation: the tutorial's MLP (784-128-32-10, batch 100) and the scale MLP
(784-1024-1024-10, batch 1000). Prints the median ms/step of each and the ratio, and writes them with the
machine line to results/xla_steps.{md,json} (--out to change). Each timed step fetches the loss as a float,
which waits for the step (XLA runs asynchronously).

    python benchmarks/xla_steps.py [--steps N] [--rounds R]
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import results  # noqa: E402  (results/*.md and .json, the machine line)


def nanotf_step(hidden, batch, lr):
    import nanotf as tf
    from nanotf.examples.tutorials.mnist import mnist
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, (batch, 784))
        y = tf.placeholder(tf.int32, (batch,))
        loss = mnist.loss(mnist.inference(x, *hidden), y)
        train = mnist.training(loss, lr)
        init = tf.global_variables_initializer()
    config = tf.ConfigProto(graph_options=tf.GraphOptions(optimizer_options=tf.OptimizerOptions(
        global_jit_level=tf.OptimizerOptions.ON_1)))
    sess = tf.Session(graph=g, config=config)
    sess.run(init)
    fetches = [train, loss]
    return lambda images, labels: sess.run(fetches, {x: images, y: labels})[1]


def jax_step(hidden, batch, lr):
    import jax
    import jax.numpy as jnp
    sizes = (784,) + tuple(hidden) + (10,)
    rng = np.random.default_rng(0)
    params = [(jnp.asarray((rng.standard_normal((a, b)) / np.sqrt(a)).astype(np.float32)),
               jnp.zeros(b, jnp.float32)) for a, b in zip(sizes[:-1], sizes[1:])]

    def loss_fn(params, x, y):
        h = x
        for w, b in params[:-1]:
            h = jax.nn.relu(h @ w + b)
        logits = h @ params[-1][0] + params[-1][1]
        return -jnp.mean(jnp.sum(jax.nn.log_softmax(logits) * jax.nn.one_hot(y, 10, dtype=logits.dtype), -1))

    def step(params, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        return jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads), loss
    step = jax.jit(step, donate_argnums=(0,))
    state = [params]

    def run(images, labels):
        state[0], loss = step(state[0], images, labels)
        return float(loss)
    return run


def time_steps(fn, data, steps):
    for images, labels in data[:3]:
        fn(images, labels)   # compile and warm up
    t0 = time.perf_counter()
    for i in range(steps):
        images, labels = data[i % len(data)]
        fn(images, labels)
    return (time.perf_counter() - t0) / steps * 1e3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "xla_steps"))
    args = ap.parse_args()
    rows, report = [], {}
    for name, hidden, batch, steps in (("tutorial 784-128-32-10 b100", (128, 32), 100, args.steps),
                                       ("scale MLP 784-1024-1024-10 b1000", (1024, 1024), 1000, max(args.steps // 10, 10))):
        rng = np.random.default_rng(1)
        data = [(rng.random((batch, 784), dtype=np.float32), rng.integers(0, 10, batch).astype(np.int32))
                for _ in range(10)]
        runners = {"nanotf-xla": nanotf_step(hidden, batch, 0.01), "jax": jax_step(hidden, batch, 0.01)}
        times = {k: [] for k in runners}
        for _ in range(args.rounds):   # rounds alternate so both see the same machine load
            for k, fn in runners.items():
                times[k].append(time_steps(fn, data, steps))
        med = {k: statistics.median(v) for k, v in times.items()}
        print("%-34s nanotf-xla %7.3f ms/step   jax %7.3f ms/step   ratio %.3f"
              % (name, med["nanotf-xla"], med["jax"], med["nanotf-xla"] / med["jax"]), flush=True)
        rows.append("| %s | %.3f | %.3f | %.3f |" % (name, med["nanotf-xla"], med["jax"],
                                                    med["nanotf-xla"] / med["jax"]))
        report[name] = {"steps_per_round": steps, "rounds_ms": times, "median_ms": med,
                        "ratio": med["nanotf-xla"] / med["jax"]}
    import jax
    machine = results.machine()
    results.write(args.out, "# One SGD step: nanotf's XLA backend against the step written by hand in JAX\n\n"
                  "Made by `benchmarks/xla_steps.py --steps %d --rounds %d` on %s, jax %s (%s); each cell is the "
                  "median over %d alternating rounds of the mean ms/step of a round.\n\n"
                  "| step | nanotf-XLA ms | hand JAX ms | ratio |\n|---|---|---|---|\n%s\n"
                  % (args.steps, args.rounds, machine, jax.__version__, jax.default_backend(), args.rounds,
                     "\n".join(rows)),
                  {"steps": args.steps, "rounds": args.rounds, "machine": machine, "jax": jax.__version__,
                   "results": report})


if __name__ == "__main__":
    main()
