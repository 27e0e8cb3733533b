"""Nested element structures of tf.data: tuples, namedtuples and dicts of components.

As in TensorFlow's `tf.data` nest, a list is NOT a structure: `from_tensor_slices([1, 2, 3])` is one
component (the list becomes a tensor). Dicts flatten in sorted key order, as TensorFlow does.
"""
import collections


def is_sequence(x):
    return isinstance(x, (tuple, collections.abc.Mapping))


def _is_namedtuple(x):
    return isinstance(x, tuple) and hasattr(x, "_fields")


def flatten(structure):
    """The leaves of `structure`, depth first (dict values in sorted key order)."""
    out = []
    _flatten_into(structure, out)
    return out


def _flatten_into(x, out):
    if isinstance(x, collections.abc.Mapping):
        for k in sorted(x):
            _flatten_into(x[k], out)
    elif isinstance(x, tuple):
        for v in x:
            _flatten_into(v, out)
    else:
        out.append(x)


def pack_sequence_as(structure, flat):
    """`flat` (a sequence of leaves) arranged as `structure`."""
    flat = list(flat)
    result, used = _pack(structure, flat, 0)
    if used != len(flat):
        raise ValueError("Structure had %d elements, but flat_sequence had %d elements." % (used, len(flat)))
    return result


def _pack(x, flat, i):
    if isinstance(x, collections.abc.Mapping):
        vals = {}
        for k in sorted(x):
            vals[k], i = _pack(x[k], flat, i)
        try:
            return type(x)((k, vals[k]) for k in x), i
        except TypeError:
            return {k: vals[k] for k in x}, i
    if isinstance(x, tuple):
        items = []
        for v in x:
            item, i = _pack(v, flat, i)
            items.append(item)
        return (type(x)(*items) if _is_namedtuple(x) else tuple(items)), i
    if i >= len(flat):
        raise ValueError("Structure had more elements than flat_sequence (%d)." % len(flat))
    return flat[i], i + 1


def map_structure(fn, *structures):
    """`fn` applied leaf by leaf to structures of the same shape."""
    assert_same_structure(*structures)
    flats = [flatten(s) for s in structures]
    return pack_sequence_as(structures[0], [fn(*leaves) for leaves in zip(*flats)])


def assert_same_structure(*structures):
    first = structures[0]
    for other in structures[1:]:
        if _signature(first) != _signature(other):
            raise ValueError("The two structures don't have the same nested structure.\n\nFirst structure: %s"
                             "\n\nSecond structure: %s" % (_describe(first), _describe(other)))


def _signature(x):
    if isinstance(x, collections.abc.Mapping):
        return ("dict", tuple((k, _signature(x[k])) for k in sorted(x)))
    if isinstance(x, tuple):
        return ("tuple", tuple(_signature(v) for v in x))
    return "."


def _describe(x):
    if isinstance(x, collections.abc.Mapping):
        return "{%s}" % ", ".join("%r: %s" % (k, _describe(x[k])) for k in sorted(x))
    if isinstance(x, tuple):
        return "(%s)" % ", ".join(_describe(v) for v in x)
    return "."


def lists_to_tuples(structure):
    """A function's returned lists as tuples (tf.data treats a returned list as a tuple of components)."""
    if isinstance(structure, list):
        return tuple(lists_to_tuples(v) for v in structure)
    if isinstance(structure, collections.abc.Mapping):
        return type(structure)((k, lists_to_tuples(v)) for k, v in structure.items())
    if isinstance(structure, tuple):
        items = [lists_to_tuples(v) for v in structure]
        return type(structure)(*items) if _is_namedtuple(structure) else tuple(items)
    return structure
