"""tf.data.experimental: the few names TF 1.x input pipelines use."""
from nanotf.data.ops.dataset_ops import AUTOTUNE


def shuffle_and_repeat(buffer_size, count=None, seed=None):
    """shuffle then repeat, with a new order each pass (as TF's fused version)."""
    return lambda dataset: dataset.shuffle(buffer_size, seed).repeat(count)


def map_and_batch(map_func, batch_size, num_parallel_batches=None, drop_remainder=False, num_parallel_calls=None):
    return lambda dataset: dataset.map(map_func).batch(batch_size, drop_remainder)


def unbatch():
    return lambda dataset: dataset.unbatch()


def get_single_element(dataset):
    """The tensors of the dataset's single element (runs a one-shot iterator)."""
    return dataset.make_one_shot_iterator().get_next()


__all__ = ["AUTOTUNE", "shuffle_and_repeat", "map_and_batch", "unbatch", "get_single_element"]
