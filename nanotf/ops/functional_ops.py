"""tf.map_fn, tf.scan, tf.foldl, tf.foldr: loops over the rows of tensors.

Each is one While op (ops/while_v2.py) in its "for each row" form: the op slices its inputs
along axis 0, feeds row i to the traced function and stacks the function's per-row outputs, so no
TensorArray is needed and the gradient stacks the rows' gradients the same way.
"""
from nanotf.framework.ops import convert_to_tensor, name_scope
from nanotf.ops import array_ops
from nanotf.ops.control_flow_util import _flatten, _is_nested, _pack_as
from nanotf.ops.while_v2 import _build_loop

__all__ = ["map_fn", "scan", "foldl", "foldr"]


def _elems(elems):
    flat = [convert_to_tensor(e) for e in _flatten(elems)]
    if not flat:
        raise ValueError("elems must be a Tensor or a (possibly nested) sequence of Tensors, got %r" % (elems,))
    for e in flat:
        if e.shape.ndims == 0:
            raise ValueError("Elements in elems must be 1+ dimensional Tensors, not scalars: %s" % e.name)
    return flat


def _check_fn(fn):
    if not callable(fn):
        raise TypeError("fn must be callable.")


def map_fn(fn, elems, dtype=None, parallel_iterations=None, back_prop=True, swap_memory=False, infer_shape=True,
           name=None):
    """Stacks fn(row) over the rows of `elems` (a tensor or a nested structure of tensors with the same
    first dimension; fn receives rows in that structure). `dtype` describes fn's output structure when it
    differs from elems'; nanotf takes dtypes from what fn returns."""
    _check_fn(fn)
    with name_scope(name, "map", _flatten(elems)) as scope:
        xs = _elems(elems)
        out_structure = []

        def body(*rows):
            res = fn(_pack_as(elems, rows) if _is_nested(elems) else rows[0])
            out_structure.append(res)
            return [], [convert_to_tensor(r) for r in _flatten(res)]
        _, ys = _build_loop(scope, [], [], [], None, body, n_xs=xs, back_prop=back_prop)
    res = out_structure[0]
    return _pack_as(res, ys) if _is_nested(res) else ys[0]


def _scan_like(kind, fn, elems, initializer, back_prop, reverse, name, default_name):
    _check_fn(fn)
    with name_scope(name, default_name, _flatten(elems)) as scope:
        xs = _elems(elems)
        if initializer is None:
            # the first row (the last, in reverse) starts the accumulator; the loop runs over the others
            init_structure = elems
            first = [x[-1] if reverse else x[0] for x in xs]
            xs = [x[:-1] if reverse else x[1:] for x in xs]
            init = first
        else:
            init_structure = initializer
            init = [convert_to_tensor(v) for v in _flatten(initializer)]

        def pack(structure, flat):
            return _pack_as(structure, flat) if _is_nested(structure) else flat[0]

        def body(*args):
            acc, rows = args[:len(init)], args[len(init):]
            res = fn(pack(init_structure, acc), pack(elems, rows))
            flat = [convert_to_tensor(r) for r in _flatten(res)]
            if len(flat) != len(init):
                raise ValueError("fn must return the structure of the %s: %d tensors, got %r"
                                 % ("initializer" if initializer is not None else "elems", len(init), res))
            return flat, (flat if kind == "scan" else [])
        final, ys = _build_loop(scope, init_structure, init, [t.shape for t in init], None, body, n_xs=xs,
                                back_prop=back_prop, reverse=reverse)
        if kind == "fold":
            return pack(init_structure, final)
        if initializer is None:   # the starting row is the first (last, in reverse) output row
            ys = [array_ops.concat([y, array_ops.expand_dims(f, 0)] if reverse else [array_ops.expand_dims(f, 0), y], 0)
                  for f, y in zip(first, ys)]
        return pack(init_structure, ys)


def scan(fn, elems, initializer=None, parallel_iterations=10, back_prop=True, swap_memory=False, infer_shape=True,
         reverse=False, name=None):
    """Stacks the accumulator a_i = fn(a_{i-1}, row_i) over the rows of `elems` (from the end with
    reverse=True; output rows stay in elems' order). Without an initializer the first row starts it."""
    return _scan_like("scan", fn, elems, initializer, back_prop, reverse, name, "scan")


def foldl(fn, elems, initializer=None, parallel_iterations=10, back_prop=True, swap_memory=False, name=None):
    """fn(...fn(fn(initializer, row_0), row_1)..., row_n-1): the final accumulator of a left fold."""
    return _scan_like("fold", fn, elems, initializer, back_prop, False, name, "foldl")


def foldr(fn, elems, initializer=None, parallel_iterations=10, back_prop=True, swap_memory=False, name=None):
    """The final accumulator of a right fold: rows from the last to the first."""
    return _scan_like("fold", fn, elems, initializer, back_prop, True, name, "foldr")
