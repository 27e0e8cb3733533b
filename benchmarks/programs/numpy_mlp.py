"""The floor reference: the tutorial's MLP written by hand in NumPy.

Everything a graph engine could at best reduce the step to: every buffer
allocated once, matrix products written into them (``np.matmul(..., out=)``),
ReLU and updates in place, and softmax cross-entropy's forward and backward
fused.  Same data, initialisation, loss, SGD, cadence, checkpoints (np.savez)
and evaluation as the other programs.
"""
import math
import os

import numpy as np

import _bench
import mnist_idx


class MLP:
    def __init__(self, args, batch):
        rng = np.random.default_rng(args.seed)
        sizes = [_bench.IMAGE_PIXELS, args.hidden1, args.hidden2,
                 _bench.NUM_CLASSES]
        self.lr = np.float32(args.learning_rate)
        self.weights = [_bench.truncated_normal(rng, (n_in, n_out),
                                                1.0 / math.sqrt(n_in))
                        for n_in, n_out in zip(sizes, sizes[1:])]
        self.biases = [np.zeros(n, np.float32) for n in sizes[1:]]
        self.batch = batch
        # Activations (a[0] refers to the current input batch), their
        # gradients, ReLU masks.
        self.acts = [None] + [np.empty((batch, n), np.float32)
                              for n in sizes[1:]]
        self.grads = [np.empty((batch, n), np.float32) for n in sizes[1:]]
        self.masks = [np.empty((batch, n), bool) for n in sizes[1:-1]]
        self.labels = np.empty(batch, np.int32)
        self.rows = np.arange(batch)
        self.row_max = np.empty((batch, 1), np.float32)
        self.row_sum = np.empty((batch, 1), np.float32)
        self.picked = np.empty(batch, np.float32)
        self.d_weights = [np.empty_like(w) for w in self.weights]
        self.d_biases = [np.empty_like(b) for b in self.biases]

    def forward(self, x):
        """Logits into self.acts[-1]; hidden layers ReLU'd in place."""
        a = self.acts
        a[0] = x  # used where it lies, never copied
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            np.matmul(a[i], w, out=a[i + 1])
            a[i + 1] += b
            if i < last:
                np.maximum(a[i + 1], 0, out=a[i + 1])
        return a[-1]

    def train_step(self, x, labels):
        a, g = self.acts, self.grads
        logits = self.forward(x)
        # Stable softmax cross-entropy: shift by the row max, exponentiate in
        # place; loss_i = log(sum exp) - shifted[label].
        np.max(logits, axis=1, keepdims=True, out=self.row_max)
        logits -= self.row_max
        self.picked[:] = logits[self.rows, labels]
        np.exp(logits, out=g[-1])
        np.sum(g[-1], axis=1, keepdims=True, out=self.row_sum)
        loss = float(np.mean(np.log(self.row_sum[:, 0]) - self.picked))
        # d loss / d logits = (softmax - onehot) / batch; for plain SGD the
        # learning rate is folded in here, so every gradient below is
        # already lr * gradient and the update is a plain subtraction.
        g[-1] /= self.row_sum
        g[-1][self.rows, labels] -= 1.0
        g[-1] *= self.lr / np.float32(self.batch)
        for i in range(len(self.weights) - 1, -1, -1):
            np.matmul(a[i].T, g[i], out=self.d_weights[i])
            np.sum(g[i], axis=0, out=self.d_biases[i])
            if i > 0:  # the input needs no gradient
                np.matmul(g[i], self.weights[i].T, out=g[i - 1])
                np.greater(a[i], 0, out=self.masks[i - 1])
                g[i - 1] *= self.masks[i - 1]
        for w, dw, b, db in zip(self.weights, self.d_weights, self.biases,
                                self.d_biases):
            w -= dw
            b -= db
        return loss

    def correct(self, x, labels):
        """in_top_k(logits, labels, 1): the label's logit is a row maximum."""
        logits = self.forward(x)
        return int(np.count_nonzero(
            logits[self.rows, labels] >= logits.max(axis=1)))


def main():
    args = _bench.parse_args(__doc__)
    data_sets = mnist_idx.read_data_sets(args.data_dir, seed=args.seed)
    model = MLP(args, args.batch_size)
    # Training batches are written into one preallocated input buffer.
    x_buf = np.empty((args.batch_size, _bench.IMAGE_PIXELS), np.float32)
    y_buf = model.labels
    train_set = data_sets.train
    train_set.next_batch = (lambda n, _nb=train_set.next_batch:
                            _nb(n, out=(x_buf, y_buf)))

    def checkpoint(step):
        path = os.path.join(args.log_dir, 'model.ckpt-%d.npz' % step)
        np.savez(path, **{'w%d' % i: w for i, w in enumerate(model.weights)},
                 **{'b%d' % i: b for i, b in enumerate(model.biases)})

    result = _bench.train_and_evaluate(args, data_sets, model.train_step,
                                       model.correct, checkpoint)
    _bench.emit('numpy', args, result, framework_version=np.__version__)


if __name__ == '__main__':
    main()
