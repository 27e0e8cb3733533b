"""The tutorial's MLP in JAX: jit-compiled train step and eval batch."""
import math
import os

import _bench  # first: it notes the process start time
import mnist_idx


def main():
    args = _bench.parse_args(__doc__)
    if args.threads == 1:
        # XLA:CPU's Eigen pool otherwise uses every core.
        os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') +
                                   ' --xla_cpu_multi_thread_eigen=false'
                                   ' intra_op_parallelism_threads=1')
    import jax
    import jax.numpy as jnp
    import numpy as np
    data_sets = mnist_idx.read_data_sets(args.data_dir, seed=args.seed)

    sizes = [_bench.IMAGE_PIXELS, args.hidden1, args.hidden2,
             _bench.NUM_CLASSES]
    keys = jax.random.split(jax.random.PRNGKey(args.seed), len(sizes) - 1)
    params = [(jax.random.truncated_normal(k, -2.0, 2.0, (n_in, n_out),
                                           jnp.float32) / math.sqrt(n_in),
               jnp.zeros(n_out, jnp.float32))
              for k, n_in, n_out in zip(keys, sizes, sizes[1:])]
    lr = args.learning_rate

    def logits_of(params, images):
        h = images
        for w, b in params[:-1]:
            h = jax.nn.relu(h @ w + b)
        w, b = params[-1]
        return h @ w + b

    def loss_of(params, images, labels):
        logits = logits_of(params, images)
        log_z = jax.nn.logsumexp(logits, axis=1)
        picked = jnp.take_along_axis(logits, labels[:, None], axis=1)[:, 0]
        return jnp.mean(log_z - picked)

    @jax.jit
    def sgd_step(params, images, labels):
        loss, grads = jax.value_and_grad(loss_of)(params, images, labels)
        params = jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads)
        return params, loss

    @jax.jit
    def count_correct(params, images, labels):
        logits = logits_of(params, images)
        picked = jnp.take_along_axis(logits, labels[:, None], axis=1)[:, 0]
        return jnp.sum(picked >= jnp.max(logits, axis=1))  # in_top_k, k=1

    state = {'params': params}

    def train_step(images, labels):
        state['params'], loss = sgd_step(state['params'], images, labels)
        return float(loss)  # waits for the step, like sess.run's fetch

    def eval_batch(images, labels):
        return int(count_correct(state['params'], images, labels))

    def checkpoint(step):
        flat = jax.device_get(state['params'])
        np.savez(os.path.join(args.log_dir, 'model.ckpt-%d.npz' % step),
                 **{'%s%d' % (kind, i): arr for i, pair in enumerate(flat)
                    for kind, arr in zip('wb', pair)})

    result = _bench.train_and_evaluate(args, data_sets, train_step, eval_batch, checkpoint)
    _bench.emit('jax', args, result, framework_version=jax.__version__,
                jax_backend=jax.default_backend())


if __name__ == '__main__':
    main()
