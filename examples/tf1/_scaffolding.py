"""The plain-Python scaffolding the example programs share, kept apart from their TF code: the common flags,
minibatch indices, evaluation of a test set in chunks, and the training-time line. No framework here."""
import argparse
import contextlib
import time


def parse_args(doc, argv, **flags):
    """The program's flags: --fake_data, --data_dir, and one flag per keyword, typed by its default
    (`steps=500` gives --steps, an int defaulting to 500; `steps=(500, "help text")` adds a help text).
    `doc` is the program's docstring: its first line describes the program in --help."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--fake_data", action="store_true", help="learnable fake data instead of MNIST")
    parser.add_argument("--data_dir", default=None, help="the folder holding the four gzipped MNIST files")
    for name, default in flags.items():
        default, help_text = default if isinstance(default, tuple) else (default, None)
        parser.add_argument("--" + name, type=type(default), default=default, help=help_text)
    return parser.parse_args(argv)


def random_batches(rng, n, batch_size, steps, first_step=0):
    """(step, indices) for `steps` training steps numbered from `first_step`: each batch is `batch_size`
    indices drawn uniformly, with replacement, from range(n) by `rng` (a NumPy RandomState)."""
    for step in range(first_step, first_step + steps):
        yield step, rng.randint(0, n, batch_size)


def epoch_batches(rng, n, batch_size):
    """Endless batches of indices into range(n), as input_data's DataSet.next_batch gives them: a fresh
    permutation by `rng` each epoch; a batch that would run past its end starts the next epoch instead."""
    order, pos = rng.permutation(n), 0
    while True:
        if pos + batch_size > n:
            order, pos = rng.permutation(n), 0
        yield order[pos:pos + batch_size]
        pos += batch_size


def chunks(size, *arrays):
    """Consecutive slices of `size` rows of the arrays, together (the last slices may be shorter)."""
    for start in range(0, len(arrays[0]), size):
        yield [a[start:start + size] for a in arrays]


def total_over_chunks(fn, size, *arrays):
    """The sum of fn(*slices) over chunks(size, *arrays): a count over a test set too big for one run."""
    total = 0
    for part in chunks(size, *arrays):
        total += fn(*part)
    return total


def mean_over_chunks(fn, size, *arrays):
    """The mean over all rows of a per-chunk mean fn(*slices), each chunk weighted by its rows."""
    return total_over_chunks(lambda *part: fn(*part) * len(part[0]), size, *arrays) / len(arrays[0])


@contextlib.contextmanager
def timed_training(steps):
    """Prints `training: S s, M ms/step` for the `steps` steps the block runs."""
    start = time.time()
    yield
    elapsed = time.time() - start
    print("training: %.1f s, %.1f ms/step" % (elapsed, 1000 * elapsed / max(steps, 1)))
