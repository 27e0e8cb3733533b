"""tf.data: Dataset pipelines and iterators, run by the Session in graph mode.

    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).shuffle(10000).batch(128).repeat()
    images_batch, labels_batch = dataset.make_one_shot_iterator().get_next()

See nanotf/data/ops/dataset_ops.py (pipelines) and iterator_ops.py (iterators, where their state lives).
"""
from nanotf.data import experimental  # noqa: F401
from nanotf.data.ops.dataset_ops import AUTOTUNE, Dataset, DatasetV1  # noqa: F401
from nanotf.data.ops.iterator_ops import (Iterator, get_output_classes, get_output_shapes,  # noqa: F401
                                          get_output_types, make_initializable_iterator, make_one_shot_iterator)
from nanotf.data.util.structure import TensorSpec  # noqa: F401

DatasetV2 = Dataset

__all__ = ["Dataset", "DatasetV1", "DatasetV2", "Iterator", "TensorSpec", "experimental", "make_one_shot_iterator",
           "make_initializable_iterator", "get_output_types", "get_output_shapes", "get_output_classes"]
