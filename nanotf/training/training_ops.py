"""Fused optimizer update ops (TF's training_ops): one stateful op per variable and step.

Each op takes the variable and its slots as references (`ref_inputs`), the hyper-parameters
and the gradient as values, and updates the Session's arrays IN PLACE, as TensorFlow's
kernels do. The training step is the hot loop, so each kernel reuses a scratch buffer kept in
its closure (reallocated only when the variable's shape changes) instead of letting NumPy
allocate temporaries, and reads hyper-parameters per run so schedules (Tensors) work.
The output is the updated variable value (the storage itself, `view_map = {0: (0,)}`; a fetch
copies it).

The fused ops `_FusedMatMulApplyGradientDescent` and `_FusedMatMulApplyAdam` are an update whose
gradient is `MatMul(a, b)` used nowhere else (a dense layer's weight gradient), in one kernel that
never writes the whole product to memory; `FUSION_RULES` (framework/op_def.py) lets a compiler
replace the pair by them.
"""
import threading

import numpy as np

from nanotf.framework import errors, parallel
from nanotf.framework import lowering as xla
from nanotf.framework.op_def import FusedOpDef, OpDef, Sample
from nanotf.framework.ops import apply_op
from nanotf.ops.state_ops import sample_variable

__all__ = []   # the public entry points are the optimizers; these wrappers serve them


def _uninitialized(var_op):
    return errors.FailedPreconditionError(None, var_op, "Attempting to use uninitialized value %s" % var_op.name)


def _read(store, var_op):
    value = store.get(var_op)
    if value is None:
        raise _uninitialized(var_op)
    return value


class _Scratch:
    """A reusable work array shaped like the variable (one per kernel, i.e. per op and session)."""

    __slots__ = ("buf",)

    def __init__(self):
        self.buf = None

    def like(self, a):
        b = self.buf
        if b is None or b.shape != a.shape:
            b = self.buf = np.empty_like(a)
        return b


# -- in-place steps shared by the update kernels (each keeps TF's order of arithmetic)
def _scale_add(acc, scale, x):
    """acc = acc * scale + x"""
    np.multiply(acc, scale, out=acc)
    np.add(acc, x, out=acc)


def _move_toward(avg, value, rate, buf):
    """avg += (value - avg) * rate (a moving average's step; `value` may be `buf`)"""
    np.subtract(value, avg, out=buf)
    np.multiply(buf, rate, out=buf)
    np.add(avg, buf, out=avg)


def _decay_add_square(acc, x, rho, one_minus_rho, buf):
    """acc = acc * rho + x^2 * (1 - rho)"""
    np.multiply(x, x, out=buf)
    np.multiply(buf, one_minus_rho, out=buf)
    _scale_add(acc, rho, buf)


def _ratio_times(buf, num, scale):
    """buf = num / buf * scale"""
    np.divide(num, buf, out=buf)
    np.multiply(buf, scale, out=buf)


class _ApplyOp(OpDef):
    """Shared static checks. Subclasses list their input names (TF's order) in `inputs`; the first
    `len(ref_inputs)` are variables, `scalars` must be rank 0, every other input has the var's shape."""

    abstract = True
    stateful = True
    grad = None
    view_map = {0: (0,)}   # the output is the variable's storage
    lower_updates_refs = True   # the XLA lowering returns the new values of the ref inputs, in their order
    inputs = ()
    scalars = ()

    @classmethod
    def infer(cls, op):
        ins = op._inputs
        names = cls.inputs
        if len(ins) != len(names):
            raise ValueError("%s %r expects %d inputs (%s), got %d" % (op.type, op.name, len(names),
                                                                      ", ".join(names), len(ins)))
        var = ins[0]
        if not var.dtype.is_floating:
            raise TypeError("%s %r: variable %s has dtype %s; only floating-point variables can be trained"
                            % (op.type, op.name, var.op.name, var.dtype.name))
        for i, (name, t) in enumerate(zip(names, ins)):
            if i in cls.ref_inputs and t.op.type != "VariableV2":
                raise TypeError("%s %r: input '%s' must be a variable reference, got the tensor %s (op type %s)"
                                % (op.type, op.name, name, t.name, t.op.type))
            if t.dtype is not var.dtype:
                raise TypeError("%s %r: input '%s' (%s) has dtype %s, expected %s like the variable %s"
                                % (op.type, op.name, name, t.name, t.dtype.name, var.dtype.name, var.op.name))
            if name in cls.scalars:
                if t.shape.ndims not in (None, 0):
                    raise ValueError("%s %r: '%s' is not a scalar: %s" % (op.type, op.name, name, t.shape))
            elif i and not t.shape.is_compatible_with(var.shape):
                raise ValueError("%s %r: var and %s do not have the same shape %s %s (variable %s, %s %s)"
                                 % (op.type, op.name, name, var.shape, t.shape, var.op.name, name, t.name))
        return var.dtype, var.shape


def _apply(op_type, inputs, use_locking, name, **attrs):
    attrs["use_locking"] = bool(use_locking)
    return apply_op(op_type, list(inputs), attrs, name=name or op_type)


def _state_reader(op, ctx, indices, names):
    """fn(gradient shape) -> the arrays of the variables at inputs `indices` (the updated variable first),
    checked to have its shape, as has the gradient. `names`: those inputs', then the gradient's."""
    store, var_ops = ctx.variables, [op._inputs[i].op for i in indices]

    def read(grad_shape):
        arrays = [_read(store, v) for v in var_ops]
        w = arrays[0]
        if grad_shape != w.shape or any(a.shape != w.shape for a in arrays[1:]):
            _check_same_shape(op, names[-1], grad_shape, w)
            for name, a in zip(names[1:-1], arrays[1:]):
                _check_same_shape(op, name, a.shape, w)
        return arrays
    return read


def _check_same_shape(op, what, shape, var):
    """Runtime guard: NumPy would silently broadcast a smaller gradient or slot into the update."""
    if tuple(shape) != var.shape:
        raise errors.InvalidArgumentError(None, getattr(op, "consumer", op),   # a fused node names its update
                                          "var and %s do not have the same shape %s %s"
                                          % (what, list(var.shape), list(shape)))


def _product_operands(op, a, b):
    """The matmul operands of a fused op, transposed as its attrs say, and the product's shape."""
    a = a.T if op._attrs["transpose_a"] else a
    b = b.T if op._attrs["transpose_b"] else b
    return a, b, (a.shape[0], b.shape[1])


# -- samples for the generic op tests: variables made from fed values, fixed hyper-parameters
_SAMPLE_SCALARS = {"alpha": 0.1, "lr": 0.1, "momentum": 0.9, "rho": 0.9, "epsilon": 1e-7, "beta1_power": 0.81,
                   "beta2_power": 0.998, "beta1": 0.9, "beta2": 0.999}
_SAMPLE_RANGES = {"grad": (-0.5, 0.5), "delta": (-0.5, 0.5), "mg": (0.0, 0.1)}   # keeps ms - mg^2 > 0


def _update_sample(op_type, names, ref_inputs, shapes=None, **attrs):
    """A Sample running `op_type` on variables initialized from fed (3, 2) values (accumulators positive)."""
    shapes = shapes or {}

    def spec(name):
        if name in _SAMPLE_SCALARS:
            return np.array(_SAMPLE_SCALARS[name])
        low, high = _SAMPLE_RANGES.get(name, (0.5, 2.0))
        return lambda rng: rng.uniform(low, high, shapes.get(name, (3, 2)))

    def build(*ts):
        inputs = [sample_variable(t) if i in ref_inputs else t for i, t in enumerate(ts)]
        return apply_op(op_type, inputs, dict(attrs, use_locking=False), name=op_type.lstrip("_"))  # TF: no _ first
    return Sample(build, [spec(n) for n in names])


class ApplyGradientDescent(_ApplyOp):
    """var -= alpha * delta"""

    inputs = ("var", "alpha", "delta")
    ref_inputs = (0,)
    scalars = ("alpha",)
    destroy_map = {0: (2,)}   # out=delta (a dead temporary): delta is scaled where it lies, not in a scratch array

    def kernel(op, ctx):
        read = _state_reader(op, ctx, (0,), ("var", "delta"))
        scratch = _Scratch()

        def apply_gradient_descent(alpha, delta, out=None):
            w, = read(delta.shape)
            buf = scratch.like(w) if out is None else out
            np.multiply(delta, alpha, out=buf)
            np.subtract(w, buf, out=w)
            return w
        return apply_gradient_descent

    def lower(op, var, alpha, delta):
        return var - alpha * delta

    samples = [_update_sample("ApplyGradientDescent", inputs, ref_inputs)]


def apply_gradient_descent(var, alpha, delta, use_locking=False, name=None):
    return _apply("ApplyGradientDescent", [var, alpha, delta], use_locking, name)


class _FusedMatMulApplyGradientDescent(FusedOpDef):
    """ApplyGradientDescent(var, alpha, MatMul(a, b)): the learning rate scales the smaller matmul operand,
    and the product lands in a reused buffer (one pass over the variable instead of three).
    Inputs: a, b, var (ref), alpha."""

    stateful = True
    ref_inputs = (2,)
    view_map = {0: (2,)}   # the output is the variable's storage

    def kernel(op, ctx):
        read = _state_reader(op, ctx, (2,), ("var", "delta"))
        scratch = _Scratch()

        def apply_gradient_descent_of_matmul(a, b, alpha):
            a, b, grad_shape = _product_operands(op, a, b)
            w, = read(grad_shape)
            if a.size <= b.size:
                a = a * alpha
            else:
                b = b * alpha
            buf = scratch.like(w)
            parallel.matmul(a, b, out=buf)
            np.subtract(w, buf, out=w)
            return w
        return apply_gradient_descent_of_matmul

    samples = [_update_sample("_FusedMatMulApplyGradientDescent", ("a", "b", "var", "alpha"), (2,),
                              {"a": a, "b": b}, transpose_a=ta, transpose_b=tb)
               for a, b, ta, tb in [((3, 4), (4, 2), False, False), ((4, 3), (4, 2), True, False),
                                    ((3, 4), (2, 4), False, True), ((2, 3), (2, 2), True, True)]]


class ApplyMomentum(_ApplyOp):
    """accum = accum * momentum + grad; var -= lr * accum
    (use_nesterov: var -= lr * grad + lr * momentum * accum)"""

    inputs = ("var", "accum", "lr", "grad", "momentum")
    ref_inputs = (0, 1)
    scalars = ("lr", "momentum")

    def kernel(op, ctx):
        read = _state_reader(op, ctx, (0, 1), ("var", "accum", "grad"))
        nesterov = op._attrs.get("use_nesterov", False)
        scratch = _Scratch()

        def apply_momentum(lr, grad, momentum):
            w, acc = read(grad.shape)
            buf = scratch.like(w)
            _scale_add(acc, momentum, grad)
            if nesterov:
                np.multiply(acc, momentum, out=buf)
                np.add(buf, grad, out=buf)
                np.multiply(buf, lr, out=buf)
            else:
                np.multiply(acc, lr, out=buf)
            np.subtract(w, buf, out=w)
            return w
        return apply_momentum

    def lower(op, var, accum, lr, grad, momentum):
        accum = accum * momentum + grad
        if op._attrs.get("use_nesterov", False):
            return var - (accum * momentum + grad) * lr, accum
        return var - accum * lr, accum

    samples = [_update_sample("ApplyMomentum", inputs, ref_inputs),
               _update_sample("ApplyMomentum", inputs, ref_inputs, use_nesterov=True)]


def apply_momentum(var, accum, lr, grad, momentum, use_locking=False, use_nesterov=False, name=None):
    return _apply("ApplyMomentum", [var, accum, lr, grad, momentum], use_locking, name,
                  use_nesterov=bool(use_nesterov))


# A big variable's update goes a band at a time (each pass then finds the band's arrays in cache), the
# bands shared out over the intra-op threads where that pays: two threads nearly halve the ~11
# memory-bound passes in a run that splits work (BLAS single-threaded). In a run that leaves BLAS its own
# threads, those spin-wait beside the pool's for a while after each product (the fused op's own comes
# right before): measured there, a split loses up to ~1.6M elements (784x512: 0.55 ms on one thread,
# 0.68-0.80 on two) and gains beyond (3136x1024: 7.2-9.0 -> 6.4-7.3 ms). Bands of 1 MB per float32 array
# at most: smaller ones lose more to the per-call cost of each NumPy pass (and the threads to the GIL
# between passes) than cache saves.
_ADAM_BLOCK = 262144            # elements per band at most; bigger variables go band by band
_ADAM_SPLIT_BESIDE_BLAS = 1 << 21   # in runs that leave BLAS its threads, split from this many elements


def _split_threads(size):
    """Threads to share the bands of a variable of `size` (> _ADAM_BLOCK) elements over in this run."""
    if parallel.splitting() or size >= _ADAM_SPLIT_BESIDE_BLAS:
        return parallel.num_threads()
    return 1


def _band_size(size, threads):
    """Elements per band of a variable of `size` elements split over `threads`: one band per thread at least."""
    return max(1, min(_ADAM_BLOCK, size // threads))


# Adam's update is ~12 NumPy passes per element (TensorFlow's kernel is one); each pass below is counted.
def _adam_moments(m, v, grad, beta1, beta2, buf):
    """m += (grad - m) * (1 - beta1); v += (grad^2 - v) * (1 - beta2), in TF's order: 7 passes."""
    _move_toward(m, grad, 1 - beta1, buf)
    np.square(grad, out=buf)
    _move_toward(v, buf, 1 - beta2, buf)


def _adam_moments_of_scaled(m, v, gs, beta1, beta2, buf):
    """The same moments from gs = grad * sqrt(1 - beta2) (the fused op gets gs from its matrix product by
    scaling the smaller operand): v = v * beta2 + gs^2, m = m * beta1 + gs * ((1 - beta1) / sqrt(1 - beta2)):
    6 passes. Equal to TF's forms up to float32 round-off."""
    np.square(gs, out=buf)
    _scale_add(v, beta2, buf)
    np.multiply(gs, (1 - beta1) / np.sqrt(1 - beta2), out=buf)
    _scale_add(m, beta1, buf)


def _adam_step(w, m, grad, alpha, beta1, epsilon, nesterov, v, buf, num_buf, grad_scale=1):
    """var -= alpha * num / (sqrt(v) + epsilon), num = m (5 passes) or, with nesterov,
    beta1 * m + (1 - beta1) * grad (3 more; `grad` is the gradient times grad_scale)."""
    num = m
    if nesterov:
        num = num_buf
        np.multiply(grad, (1 - beta1) / grad_scale, out=num)
        np.multiply(m, beta1, out=buf)
        np.add(num, buf, out=num)
    np.sqrt(v, out=buf)
    np.add(buf, epsilon, out=buf)
    _ratio_times(buf, num, alpha)
    np.subtract(w, buf, out=w)


def _adam_update(w, m, v, grad, alpha, beta1, beta2, epsilon, nesterov, buf, num_buf):
    """TF's Adam step on arrays of one shape, in place, through one scratch buffer (two with nesterov)."""
    _adam_moments(m, v, grad, beta1, beta2, buf)
    _adam_step(w, m, grad, alpha, beta1, epsilon, nesterov, v, buf, num_buf)


def _adam_update_of_scaled(w, m, v, gs, alpha, beta1, beta2, epsilon, nesterov, buf, num_buf):
    """_adam_update given gs = grad * sqrt(1 - beta2) instead of grad: one pass less."""
    _adam_moments_of_scaled(m, v, gs, beta1, beta2, buf)
    _adam_step(w, m, gs, alpha, beta1, epsilon, nesterov, v, buf, num_buf, grad_scale=np.sqrt(1 - beta2))


def _adam_apply(w, m, v, grad, alpha, beta1, beta2, epsilon, nesterov, scratch, scratch2, update=None):
    """The update of whole arrays (`update`: _adam_update or, given the scaled gradient, _adam_update_of_scaled):
    at once when small, else band by band, the bands split over the intra-op threads where that pays
    (_split_threads; NumPy's elementwise passes use one core and are bound by memory; ufuncs release the GIL)."""
    update = update or _adam_update
    if w.size <= _ADAM_BLOCK or not _all_contiguous(w, m, v):
        update(w, m, v, grad, alpha, beta1, beta2, epsilon, nesterov,
               scratch.like(w), scratch2.like(w) if nesterov else None)
        return
    fw, fm, fv, fg = w.reshape(-1), m.reshape(-1), v.reshape(-1), np.ascontiguousarray(grad).reshape(-1)
    fb = scratch.like(fw)
    fn = scratch2.like(fw) if nesterov else None

    threads = _split_threads(fw.size)
    band = _band_size(fw.size, threads)

    def part(i, j):
        for s in range(i, j, band):
            e = min(s + band, j)
            update(fw[s:e], fm[s:e], fv[s:e], fg[s:e], alpha, beta1, beta2, epsilon, nesterov,
                   fb[s:e], fn[s:e] if nesterov else None)
    if threads > 1:
        parallel.parallel_for(part, fw.size, grain=band)
    else:
        part(0, fw.size)


def _all_contiguous(*arrays):
    return all(a.flags.c_contiguous for a in arrays)


def _adam_step_size(lr, beta1_power, beta2_power):
    # Scalars stay in the variable's dtype, as TF's kernel computes them in T.
    return lr * np.sqrt(1 - beta2_power) / (1 - beta1_power)


class ApplyAdam(_ApplyOp):
    """lr_t = lr * sqrt(1 - beta2_power) / (1 - beta1_power)
    m += (grad - m) * (1 - beta1); v += (grad^2 - v) * (1 - beta2)
    var -= lr_t * m / (sqrt(v) + epsilon)   (use_nesterov: m replaced by beta1 * m + (1 - beta1) * grad)"""

    inputs = ("var", "m", "v", "beta1_power", "beta2_power", "lr", "beta1", "beta2", "epsilon", "grad")
    ref_inputs = (0, 1, 2)
    scalars = ("beta1_power", "beta2_power", "lr", "beta1", "beta2", "epsilon")

    def kernel(op, ctx):
        read = _state_reader(op, ctx, (0, 1, 2), ("var", "m", "v", "grad"))
        nesterov = op._attrs.get("use_nesterov", False)
        scratch, scratch2 = _Scratch(), _Scratch()

        def apply_adam(beta1_power, beta2_power, lr, beta1, beta2, epsilon, grad):
            w, m, v = read(grad.shape)
            _adam_apply(w, m, v, grad, _adam_step_size(lr, beta1_power, beta2_power), beta1, beta2, epsilon,
                        nesterov, scratch, scratch2)
            return w
        return apply_adam

    def lower(op, var, m, v, beta1_power, beta2_power, lr, beta1, beta2, epsilon, grad):
        alpha = lr * xla.jnp.sqrt(1 - beta2_power) / (1 - beta1_power)
        m = m + (grad - m) * (1 - beta1)
        v = v + (grad * grad - v) * (1 - beta2)
        num = beta1 * m + (1 - beta1) * grad if op._attrs.get("use_nesterov", False) else m
        return var - num / (xla.jnp.sqrt(v) + epsilon) * alpha, m, v

    samples = [_update_sample("ApplyAdam", inputs, ref_inputs),
               _update_sample("ApplyAdam", inputs, ref_inputs, use_nesterov=True)]


def apply_adam(var, m, v, beta1_power, beta2_power, lr, beta1, beta2, epsilon, grad, use_locking=False,
               use_nesterov=False, name=None):
    return _apply("ApplyAdam", [var, m, v, beta1_power, beta2_power, lr, beta1, beta2, epsilon, grad],
                  use_locking, name, use_nesterov=bool(use_nesterov))


class _FusedMatMulApplyAdam(FusedOpDef):
    """ApplyAdam with grad = MatMul(a, b) used nowhere else (the dense layer's weight gradient): the
    product is made a band of rows at a time into a small buffer and applied while still in cache, so
    the full gradient is never written to memory and read back. Bands are shared out over the intra-op
    threads. In a run that leaves BLAS its own threads, BLAS makes the whole product first, then the
    update goes band by band (_adam_apply).
    Inputs: a, b, var, m, v (refs), beta1_power, beta2_power, lr, beta1, beta2, epsilon."""

    stateful = True
    ref_inputs = (2, 3, 4)
    view_map = {0: (2,)}   # the output is the variable's storage

    def kernel(op, ctx):
        read = _state_reader(op, ctx, (2, 3, 4), ("var", "m", "v", "grad"))
        nesterov = op._attrs.get("use_nesterov", False)
        scratch, scratch2, whole = _Scratch(), _Scratch(), _Scratch()

        def apply_adam_of_matmul(a, b, beta1_power, beta2_power, lr, beta1, beta2, epsilon):
            a, b, grad_shape = _product_operands(op, a, b)
            w, m, v = read(grad_shape)
            alpha = _adam_step_size(lr, beta1_power, beta2_power)
            # the gradient times sqrt(1 - beta2), for the cost of scaling the smaller operand (beta2 = 1, where
            # v never changes, keeps the plain gradient: the scaled moments would divide by 0)
            update = _adam_update
            if np.sqrt(1 - beta2) > 0:
                update = _adam_update_of_scaled
                if a.size <= b.size:
                    a = a * np.sqrt(1 - beta2)
                else:
                    b = b * np.sqrt(1 - beta2)
            if w.size <= _ADAM_BLOCK or not _all_contiguous(w, m, v):
                # small: the whole gradient, then the update
                update(w, m, v, np.matmul(a, b, out=whole.like(w)), alpha, beta1, beta2, epsilon, nesterov,
                       scratch.like(w), scratch2.like(w) if nesterov else None)
                return w
            if not parallel.splitting():   # BLAS threads this run's products: it makes the whole gradient
                _adam_apply(w, m, v, np.matmul(a, b, out=whole.like(w)), alpha, beta1, beta2, epsilon, nesterov,
                            scratch, scratch2, update)
                return w
            rows = max(1, _band_size(w.size, parallel.num_threads()) // max(w.shape[1], 1))

            def bands(i, j):
                g_buf, buf, num_buf = _band_buffers(3 if nesterov else 2, (rows, w.shape[1]), w.dtype)
                for s in range(i, j, rows):
                    e = min(s + rows, j)
                    g = np.matmul(a[s:e], b, out=g_buf[:e - s])
                    update(w[s:e], m[s:e], v[s:e], g, alpha, beta1, beta2, epsilon, nesterov,
                           buf[:e - s], num_buf[:e - s] if nesterov else None)
            parallel.parallel_for(bands, w.shape[0], grain=rows)
            return w
        return apply_adam_of_matmul

    samples = [_update_sample("_FusedMatMulApplyAdam", ("a", "b") + ApplyAdam.inputs[:-1], (2, 3, 4),
                              {"a": a, "b": b}, transpose_a=ta, transpose_b=tb, use_nesterov=nesterov)
               for a, b, ta, tb, nesterov in [((3, 4), (4, 2), False, False, False),
                                              ((4, 3), (2, 4), True, True, True)]]


_band_local = threading.local()


def _band_buffers(count, shape, dtype):
    """`count` work arrays of `shape` kept per thread (one band of a fused update), plus None padding."""
    key = (count, shape, np.dtype(dtype))
    cached = getattr(_band_local, "bufs", None)
    if cached is None or cached[0] != key:
        cached = _band_local.bufs = (key, [np.empty(shape, dtype) for _ in range(count)])
    return list(cached[1]) + [None] * (3 - count)


class ApplyAdagrad(_ApplyOp):
    """accum += grad^2; var -= lr * grad / sqrt(accum)"""

    inputs = ("var", "accum", "lr", "grad")
    ref_inputs = (0, 1)
    scalars = ("lr",)

    def kernel(op, ctx):
        read = _state_reader(op, ctx, (0, 1), ("var", "accum", "grad"))
        scratch = _Scratch()

        def apply_adagrad(lr, grad):
            w, acc = read(grad.shape)
            buf = scratch.like(w)
            np.multiply(grad, grad, out=buf)
            np.add(acc, buf, out=acc)
            np.sqrt(acc, out=buf)
            _ratio_times(buf, grad, lr)
            np.subtract(w, buf, out=w)
            return w
        return apply_adagrad

    def lower(op, var, accum, lr, grad):
        accum = accum + grad * grad
        return var - grad / xla.jnp.sqrt(accum) * lr, accum

    samples = [_update_sample("ApplyAdagrad", inputs, ref_inputs)]


def apply_adagrad(var, accum, lr, grad, use_locking=False, name=None):
    return _apply("ApplyAdagrad", [var, accum, lr, grad], use_locking, name)


def _rms_prop_kernel(op, ctx, var_indices, centered):
    """The kernel of ApplyRMSProp (var, ms, mom) and ApplyCenteredRMSProp (var, mg, ms, mom)."""
    names = ("var", "ms", "mom", "mg", "grad") if centered else ("var", "ms", "mom", "grad")
    read = _state_reader(op, ctx, var_indices, names)
    scratch = _Scratch()

    def apply_rms_prop(lr, rho, momentum, epsilon, grad):
        arrays = read(grad.shape)
        w, ms, mom = arrays[:3]
        buf = scratch.like(w)
        one_minus_rho = 1 - rho
        np.multiply(grad, grad, out=buf)
        _move_toward(ms, buf, one_minus_rho, buf)   # ms += (grad^2 - ms) * (1 - rho)
        if centered:
            mg = arrays[3]
            _move_toward(mg, grad, one_minus_rho, buf)
            np.multiply(mg, mg, out=buf)            # denom = ms - mg^2 + epsilon
            np.subtract(ms, buf, out=buf)
            np.add(buf, epsilon, out=buf)
        else:
            np.add(ms, epsilon, out=buf)            # denom = ms + epsilon
        np.sqrt(buf, out=buf)
        _ratio_times(buf, grad, lr)                 # mom = mom * momentum + lr * grad / sqrt(denom)
        _scale_add(mom, momentum, buf)
        np.subtract(w, mom, out=w)                  # var -= mom
        return w
    return apply_rms_prop


def _rms_prop_lower(var, ms, mom, mg, lr, rho, momentum, epsilon, grad):
    """The XLA lowering of both RMSProp ops (mg None: not centered) -> new (var, ms, mom, mg)."""
    ms = ms + (grad * grad - ms) * (1 - rho)
    if mg is not None:
        mg = mg + (grad - mg) * (1 - rho)
        denom = ms - mg * mg + epsilon
    else:
        denom = ms + epsilon
    mom = mom * momentum + grad / xla.jnp.sqrt(denom) * lr
    return var - mom, ms, mom, mg


class ApplyRMSProp(_ApplyOp):
    """ms = rho * ms + (1 - rho) * grad^2; mom = momentum * mom + lr * grad / sqrt(ms + epsilon); var -= mom"""

    inputs = ("var", "ms", "mom", "lr", "rho", "momentum", "epsilon", "grad")
    ref_inputs = (0, 1, 2)
    scalars = ("lr", "rho", "momentum", "epsilon")

    def kernel(op, ctx):
        return _rms_prop_kernel(op, ctx, (0, 1, 2), centered=False)

    def lower(op, var, ms, mom, lr, rho, momentum, epsilon, grad):
        return _rms_prop_lower(var, ms, mom, None, lr, rho, momentum, epsilon, grad)[:3]

    samples = [_update_sample("ApplyRMSProp", inputs, ref_inputs)]


def apply_rms_prop(var, ms, mom, lr, rho, momentum, epsilon, grad, use_locking=False, name=None):
    return _apply("ApplyRMSProp", [var, ms, mom, lr, rho, momentum, epsilon, grad], use_locking, name)


class ApplyCenteredRMSProp(_ApplyOp):
    """As ApplyRMSProp, with mg = rho * mg + (1 - rho) * grad and the denominator sqrt(ms - mg^2 + epsilon)."""

    inputs = ("var", "mg", "ms", "mom", "lr", "rho", "momentum", "epsilon", "grad")
    ref_inputs = (0, 1, 2, 3)
    scalars = ("lr", "rho", "momentum", "epsilon")

    def kernel(op, ctx):
        return _rms_prop_kernel(op, ctx, (0, 2, 3, 1), centered=True)

    def lower(op, var, mg, ms, mom, lr, rho, momentum, epsilon, grad):
        var, ms, mom, mg = _rms_prop_lower(var, ms, mom, mg, lr, rho, momentum, epsilon, grad)
        return var, mg, ms, mom

    samples = [_update_sample("ApplyCenteredRMSProp", inputs, ref_inputs)]


def apply_centered_rms_prop(var, mg, ms, mom, lr, rho, momentum, epsilon, grad, use_locking=False, name=None):
    return _apply("ApplyCenteredRMSProp", [var, mg, ms, mom, lr, rho, momentum, epsilon, grad], use_locking, name)


class ApplyAdadelta(_ApplyOp):
    """accum = rho * accum + (1 - rho) * grad^2
    update = sqrt(accum_update + epsilon) / sqrt(accum + epsilon) * grad
    accum_update = rho * accum_update + (1 - rho) * update^2; var -= lr * update"""

    inputs = ("var", "accum", "accum_update", "lr", "rho", "epsilon", "grad")
    ref_inputs = (0, 1, 2)
    scalars = ("lr", "rho", "epsilon")

    def kernel(op, ctx):
        read = _state_reader(op, ctx, (0, 1, 2), ("var", "accum", "accum_update", "grad"))
        scratch, scratch2 = _Scratch(), _Scratch()

        def apply_adadelta(lr, rho, epsilon, grad):
            w, acc, acc_upd = read(grad.shape)
            buf, update = scratch.like(w), scratch2.like(w)
            one_minus_rho = 1 - rho
            _decay_add_square(acc, grad, rho, one_minus_rho, buf)
            np.add(acc_upd, epsilon, out=update)
            np.add(acc, epsilon, out=buf)
            np.divide(update, buf, out=update)
            np.sqrt(update, out=update)
            np.multiply(update, grad, out=update)
            _decay_add_square(acc_upd, update, rho, one_minus_rho, buf)
            np.multiply(update, lr, out=update)
            np.subtract(w, update, out=w)
            return w
        return apply_adadelta

    def lower(op, var, accum, accum_update, lr, rho, epsilon, grad):
        accum = accum * rho + grad * grad * (1 - rho)
        update = xla.jnp.sqrt((accum_update + epsilon) / (accum + epsilon)) * grad
        accum_update = accum_update * rho + update * update * (1 - rho)
        return var - update * lr, accum, accum_update

    samples = [_update_sample("ApplyAdadelta", inputs, ref_inputs)]


def apply_adadelta(var, accum, accum_update, lr, rho, epsilon, grad, use_locking=False, name=None):
    return _apply("ApplyAdadelta", [var, accum, accum_update, lr, rho, epsilon, grad], use_locking, name)
