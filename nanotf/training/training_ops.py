"""Fused optimizer update ops (TF's training_ops): one stateful op per variable and step.

Each op takes the variable and its slots as references (`ref_inputs`), the hyper-parameters
and the gradient as values, and updates the Session's arrays IN PLACE, as TensorFlow's
kernels do. The training step is the hot loop, so each kernel reuses a scratch buffer kept in
its closure (reallocated only when the variable's shape changes) instead of letting NumPy
allocate temporaries, and reads hyper-parameters per run so schedules (Tensors) work.
The output is the updated variable value (the storage itself; a fetch copies it).
"""
import threading

import numpy as np

from nanotf.framework import errors, parallel
from nanotf.framework.op_def import OpDef
from nanotf.framework.ops import apply_op

__all__ = []   # the public entry points are the optimizers; these wrappers serve them


def _uninitialized(var_op):
    return errors.FailedPreconditionError(None, var_op, "Attempting to use uninitialized value %s" % var_op.name)


def _read(store, var_op):
    value = store.get(var_op)
    if value is None:
        raise _uninitialized(var_op)
    return value


def _check_same_shape(op, what, value, var):
    """Runtime guard: NumPy would silently broadcast a smaller gradient or slot into the update."""
    if value.shape != var.shape:
        raise errors.InvalidArgumentError(None, op, "var and %s do not have the same shape %s %s"
                                          % (what, list(var.shape), list(np.shape(value))))


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


class _ApplyOp(OpDef):
    """Shared static checks. Subclasses list their input names (TF's order) in `inputs`; the first
    `len(ref_inputs)` are variables, `scalars` must be rank 0, every other input has the var's shape."""

    abstract = True
    stateful = True
    grad = None
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


class ApplyGradientDescent(_ApplyOp):
    """var -= alpha * delta"""

    inputs = ("var", "alpha", "delta")
    ref_inputs = (0,)
    scalars = ("alpha",)

    def kernel(op, ctx):
        store, var = ctx.variables, op._inputs[0].op
        scratch = _Scratch()

        def apply_gradient_descent(alpha, delta):
            w = _read(store, var)
            if delta.shape != w.shape:
                _check_same_shape(op, "delta", delta, w)
            buf = scratch.like(w)
            np.multiply(delta, alpha, out=buf)
            np.subtract(w, buf, out=w)
            return w
        return apply_gradient_descent

    inplace_input = 2

    def _fused_matmul(op, matmul, ctx):
        """var -= alpha * matmul(a, b): the learning rate scales the smaller matmul operand, and the
        product lands in a reused buffer (one pass over the variable instead of three)."""
        store, var = ctx.variables, op._inputs[0].op
        ta, tb = matmul._attrs["transpose_a"], matmul._attrs["transpose_b"]
        scratch = _Scratch()

        def apply_gradient_descent_of_matmul(a, b, alpha):
            w = _read(store, var)
            a = a.T if ta else a
            b = b.T if tb else b
            if a.shape[0] != w.shape[0] or b.shape[1] != w.shape[1]:
                _check_same_shape(op, "delta", np.empty((a.shape[0], b.shape[1]), w.dtype), w)
            if a.size <= b.size:
                a = a * alpha
            else:
                b = b * alpha
            buf = scratch.like(w)
            parallel.matmul(a, b, out=buf)
            np.subtract(w, buf, out=w)
            return w
        return apply_gradient_descent_of_matmul

    fuse = {"MatMul": _fused_matmul}
    fuse_input = 2

    def inplace(op, ctx):
        """The same update scaling delta where it lies, when the Session donates it (a dead temporary)."""
        store, var = ctx.variables, op._inputs[0].op

        def apply_gradient_descent_donated(alpha, delta):
            w = _read(store, var)
            if delta.shape != w.shape:
                _check_same_shape(op, "delta", delta, w)
            np.multiply(delta, alpha, out=delta)
            np.subtract(w, delta, out=w)
            return w
        return apply_gradient_descent_donated


def apply_gradient_descent(var, alpha, delta, use_locking=False, name=None):
    return _apply("ApplyGradientDescent", [var, alpha, delta], use_locking, name)


class ApplyMomentum(_ApplyOp):
    """accum = accum * momentum + grad; var -= lr * accum
    (use_nesterov: var -= lr * grad + lr * momentum * accum)"""

    inputs = ("var", "accum", "lr", "grad", "momentum")
    ref_inputs = (0, 1)
    scalars = ("lr", "momentum")

    def kernel(op, ctx):
        store, var, acc_var = ctx.variables, op._inputs[0].op, op._inputs[1].op
        nesterov = op._attrs.get("use_nesterov", False)
        scratch = _Scratch()

        def apply_momentum(lr, grad, momentum):
            w, acc = _read(store, var), _read(store, acc_var)
            if grad.shape != w.shape or acc.shape != w.shape:
                _check_same_shape(op, "grad", grad, w)
                _check_same_shape(op, "accum", acc, w)
            buf = scratch.like(w)
            np.multiply(acc, momentum, out=acc)
            np.add(acc, grad, out=acc)
            if nesterov:
                np.multiply(acc, momentum, out=buf)
                np.add(buf, grad, out=buf)
                np.multiply(buf, lr, out=buf)
            else:
                np.multiply(acc, lr, out=buf)
            np.subtract(w, buf, out=w)
            return w
        return apply_momentum


def apply_momentum(var, accum, lr, grad, momentum, use_locking=False, use_nesterov=False, name=None):
    return _apply("ApplyMomentum", [var, accum, lr, grad, momentum], use_locking, name,
                  use_nesterov=bool(use_nesterov))


_ADAM_BLOCK = 262144   # elements per block of a large variable's update (1 MB of float32 per array)


def _adam_update(w, m, v, grad, alpha, beta1, beta2, epsilon, nesterov, buf, num_buf):
    """TF's Adam step on arrays of one shape, in place, through one scratch buffer."""
    np.subtract(grad, m, out=buf)
    np.multiply(buf, 1 - beta1, out=buf)
    np.add(m, buf, out=m)
    np.multiply(grad, grad, out=buf)
    np.subtract(buf, v, out=buf)
    np.multiply(buf, 1 - beta2, out=buf)
    np.add(v, buf, out=v)
    num = m
    if nesterov:   # numerator beta1 * m + (1 - beta1) * grad
        num = num_buf
        np.multiply(grad, 1 - beta1, out=num)
        np.multiply(m, beta1, out=buf)
        np.add(num, buf, out=num)
    np.sqrt(v, out=buf)
    np.add(buf, epsilon, out=buf)
    np.divide(num, buf, out=buf)
    np.multiply(buf, alpha, out=buf)
    np.subtract(w, buf, out=w)


def _adam_apply(w, m, v, grad, alpha, beta1, beta2, epsilon, nesterov, scratch, scratch2):
    """The update of whole arrays: at once when small, else block by block split over the intra-op
    threads (NumPy's elementwise passes use one core and are bound by memory; ufuncs release the GIL)."""
    if w.size <= _ADAM_BLOCK or not (w.flags.c_contiguous and m.flags.c_contiguous and v.flags.c_contiguous):
        _adam_update(w, m, v, grad, alpha, beta1, beta2, epsilon, nesterov,
                     scratch.like(w), scratch2.like(w) if nesterov else None)
        return
    fw, fm, fv, fg = w.reshape(-1), m.reshape(-1), v.reshape(-1), np.ascontiguousarray(grad).reshape(-1)
    fb = scratch.like(fw)
    fn = scratch2.like(fw) if nesterov else None

    def part(i, j):
        for s in range(i, j, _ADAM_BLOCK):
            e = min(s + _ADAM_BLOCK, j)
            _adam_update(fw[s:e], fm[s:e], fv[s:e], fg[s:e], alpha, beta1, beta2, epsilon, nesterov,
                         fb[s:e], fn[s:e] if nesterov else None)
    parallel.parallel_for(part, fw.size, grain=_ADAM_BLOCK)


def _adam_of_matmul(op, matmul, ctx):
    """Adam's update when its gradient is matmul(a, b) used nowhere else (the dense layer's weight
    gradient): the product is made a band of rows at a time into a small buffer and applied while
    still in cache, so the full gradient is never written to memory and read back. Bands are
    shared out over the intra-op threads."""
    store = ctx.variables
    var, m_var, v_var = (t.op for t in op._inputs[:3])
    ta, tb = matmul._attrs["transpose_a"], matmul._attrs["transpose_b"]
    nesterov = op._attrs.get("use_nesterov", False)
    scratch, scratch2, whole = _Scratch(), _Scratch(), _Scratch()

    def apply_adam_of_matmul(a, b, beta1_power, beta2_power, lr, beta1, beta2, epsilon):
        w, m, v = _read(store, var), _read(store, m_var), _read(store, v_var)
        a = a.T if ta else a
        b = b.T if tb else b
        if a.shape[0] != w.shape[0] or b.shape[1] != w.shape[1] or m.shape != w.shape or v.shape != w.shape:
            _check_same_shape(op, "grad", np.empty((a.shape[0], b.shape[1]), w.dtype), w)
            _check_same_shape(op, "m", m, w)
            _check_same_shape(op, "v", v, w)
        alpha = lr * np.sqrt(1 - beta2_power) / (1 - beta1_power)
        rows = max(1, _ADAM_BLOCK // max(w.shape[1], 1))
        if (w.size <= _ADAM_BLOCK or not parallel.splitting()
                or not (w.flags.c_contiguous and m.flags.c_contiguous and v.flags.c_contiguous)):
            # small, or BLAS threads its own products in this run: the whole gradient, then the update
            _adam_apply(w, m, v, np.matmul(a, b, out=whole.like(w)), alpha, beta1, beta2, epsilon, nesterov,
                        scratch, scratch2)
            return w

        def bands(i, j):
            g_buf, buf, num_buf = _band_buffers(3 if nesterov else 2, (rows, w.shape[1]), w.dtype)
            for s in range(i, j, rows):
                e = min(s + rows, j)
                g = np.matmul(a[s:e], b, out=g_buf[:e - s])
                _adam_update(w[s:e], m[s:e], v[s:e], g, alpha, beta1, beta2, epsilon, nesterov,
                             buf[:e - s], num_buf[:e - s] if nesterov else None)
        parallel.parallel_for(bands, w.shape[0], grain=rows)
        return w
    return apply_adam_of_matmul


_band_local = threading.local()


def _band_buffers(count, shape, dtype):
    """`count` work arrays of `shape` kept per thread (one band of a fused update), plus None padding."""
    key = (count, shape, np.dtype(dtype))
    cached = getattr(_band_local, "bufs", None)
    if cached is None or cached[0] != key:
        cached = _band_local.bufs = (key, [np.empty(shape, dtype) for _ in range(count)])
    return list(cached[1]) + [None] * (3 - count)


class ApplyAdam(_ApplyOp):
    """lr_t = lr * sqrt(1 - beta2_power) / (1 - beta1_power)
    m += (grad - m) * (1 - beta1); v += (grad^2 - v) * (1 - beta2)
    var -= lr_t * m / (sqrt(v) + epsilon)   (use_nesterov: m replaced by beta1 * m + (1 - beta1) * grad)"""

    inputs = ("var", "m", "v", "beta1_power", "beta2_power", "lr", "beta1", "beta2", "epsilon", "grad")
    ref_inputs = (0, 1, 2)
    scalars = ("beta1_power", "beta2_power", "lr", "beta1", "beta2", "epsilon")

    def kernel(op, ctx):
        store = ctx.variables
        var, m_var, v_var = (t.op for t in op._inputs[:3])
        nesterov = op._attrs.get("use_nesterov", False)
        scratch, scratch2 = _Scratch(), _Scratch()

        def apply_adam(beta1_power, beta2_power, lr, beta1, beta2, epsilon, grad):
            w, m, v = _read(store, var), _read(store, m_var), _read(store, v_var)
            if grad.shape != w.shape or m.shape != w.shape or v.shape != w.shape:
                _check_same_shape(op, "grad", grad, w)
                _check_same_shape(op, "m", m, w)
                _check_same_shape(op, "v", v, w)
            # Scalars stay in the variable's dtype, as TF's kernel computes them in T.
            alpha = lr * np.sqrt(1 - beta2_power) / (1 - beta1_power)
            _adam_apply(w, m, v, grad, alpha, beta1, beta2, epsilon, nesterov, scratch, scratch2)
            return w
        return apply_adam

    fuse = {"MatMul": _adam_of_matmul}
    fuse_input = 9


def apply_adam(var, m, v, beta1_power, beta2_power, lr, beta1, beta2, epsilon, grad, use_locking=False,
               use_nesterov=False, name=None):
    return _apply("ApplyAdam", [var, m, v, beta1_power, beta2_power, lr, beta1, beta2, epsilon, grad],
                  use_locking, name, use_nesterov=bool(use_nesterov))


class ApplyAdagrad(_ApplyOp):
    """accum += grad^2; var -= lr * grad / sqrt(accum)"""

    inputs = ("var", "accum", "lr", "grad")
    ref_inputs = (0, 1)
    scalars = ("lr",)

    def kernel(op, ctx):
        store, var, acc_var = ctx.variables, op._inputs[0].op, op._inputs[1].op
        scratch = _Scratch()

        def apply_adagrad(lr, grad):
            w, acc = _read(store, var), _read(store, acc_var)
            if grad.shape != w.shape or acc.shape != w.shape:
                _check_same_shape(op, "grad", grad, w)
                _check_same_shape(op, "accum", acc, w)
            buf = scratch.like(w)
            np.multiply(grad, grad, out=buf)
            np.add(acc, buf, out=acc)
            np.sqrt(acc, out=buf)
            np.divide(grad, buf, out=buf)
            np.multiply(buf, lr, out=buf)
            np.subtract(w, buf, out=w)
            return w
        return apply_adagrad


def apply_adagrad(var, accum, lr, grad, use_locking=False, name=None):
    return _apply("ApplyAdagrad", [var, accum, lr, grad], use_locking, name)


def _rms_step(op, store, var, ms_var, mom_var, mg_var, scratch, lr, rho, momentum, epsilon, grad):
    """Shared body of ApplyRMSProp and ApplyCenteredRMSProp (mg_var None: not centered)."""
    w, ms, mom = _read(store, var), _read(store, ms_var), _read(store, mom_var)
    mg = _read(store, mg_var) if mg_var is not None else None
    if grad.shape != w.shape or ms.shape != w.shape or mom.shape != w.shape or (mg is not None and mg.shape != w.shape):
        _check_same_shape(op, "grad", grad, w)
        _check_same_shape(op, "ms", ms, w)
        _check_same_shape(op, "mom", mom, w)
        if mg is not None:
            _check_same_shape(op, "mg", mg, w)
    buf = scratch.like(w)
    one_minus_rho = 1 - rho
    np.multiply(grad, grad, out=buf)            # ms += (grad^2 - ms) * (1 - rho)
    np.subtract(buf, ms, out=buf)
    np.multiply(buf, one_minus_rho, out=buf)
    np.add(ms, buf, out=ms)
    if mg is not None:
        np.subtract(grad, mg, out=buf)          # mg += (grad - mg) * (1 - rho)
        np.multiply(buf, one_minus_rho, out=buf)
        np.add(mg, buf, out=mg)
        np.multiply(mg, mg, out=buf)            # denom = ms - mg^2 + epsilon
        np.subtract(ms, buf, out=buf)
        np.add(buf, epsilon, out=buf)
    else:
        np.add(ms, epsilon, out=buf)            # denom = ms + epsilon
    np.sqrt(buf, out=buf)
    np.divide(grad, buf, out=buf)               # mom = mom * momentum + lr * grad / sqrt(denom)
    np.multiply(buf, lr, out=buf)
    np.multiply(mom, momentum, out=mom)
    np.add(mom, buf, out=mom)
    np.subtract(w, mom, out=w)                  # var -= mom
    return w


class ApplyRMSProp(_ApplyOp):
    """ms = rho * ms + (1 - rho) * grad^2; mom = momentum * mom + lr * grad / sqrt(ms + epsilon); var -= mom"""

    inputs = ("var", "ms", "mom", "lr", "rho", "momentum", "epsilon", "grad")
    ref_inputs = (0, 1, 2)
    scalars = ("lr", "rho", "momentum", "epsilon")

    def kernel(op, ctx):
        store = ctx.variables
        var, ms_var, mom_var = (t.op for t in op._inputs[:3])
        scratch = _Scratch()

        def apply_rms_prop(lr, rho, momentum, epsilon, grad):
            return _rms_step(op, store, var, ms_var, mom_var, None, scratch, lr, rho, momentum, epsilon, grad)
        return apply_rms_prop


def apply_rms_prop(var, ms, mom, lr, rho, momentum, epsilon, grad, use_locking=False, name=None):
    return _apply("ApplyRMSProp", [var, ms, mom, lr, rho, momentum, epsilon, grad], use_locking, name)


class ApplyCenteredRMSProp(_ApplyOp):
    """As ApplyRMSProp, with mg = rho * mg + (1 - rho) * grad and the denominator sqrt(ms - mg^2 + epsilon)."""

    inputs = ("var", "mg", "ms", "mom", "lr", "rho", "momentum", "epsilon", "grad")
    ref_inputs = (0, 1, 2, 3)
    scalars = ("lr", "rho", "momentum", "epsilon")

    def kernel(op, ctx):
        store = ctx.variables
        var, mg_var, ms_var, mom_var = (t.op for t in op._inputs[:4])
        scratch = _Scratch()

        def apply_centered_rms_prop(lr, rho, momentum, epsilon, grad):
            return _rms_step(op, store, var, ms_var, mom_var, mg_var, scratch, lr, rho, momentum, epsilon, grad)
        return apply_centered_rms_prop


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
        store = ctx.variables
        var, acc_var, upd_var = (t.op for t in op._inputs[:3])
        scratch, scratch2 = _Scratch(), _Scratch()

        def apply_adadelta(lr, rho, epsilon, grad):
            w, acc, acc_upd = _read(store, var), _read(store, acc_var), _read(store, upd_var)
            if grad.shape != w.shape or acc.shape != w.shape or acc_upd.shape != w.shape:
                _check_same_shape(op, "grad", grad, w)
                _check_same_shape(op, "accum", acc, w)
                _check_same_shape(op, "accum_update", acc_upd, w)
            buf, update = scratch.like(w), scratch2.like(w)
            one_minus_rho = 1 - rho
            np.multiply(grad, grad, out=buf)
            np.multiply(buf, one_minus_rho, out=buf)
            np.multiply(acc, rho, out=acc)
            np.add(acc, buf, out=acc)
            np.add(acc_upd, epsilon, out=update)
            np.add(acc, epsilon, out=buf)
            np.divide(update, buf, out=update)
            np.sqrt(update, out=update)
            np.multiply(update, grad, out=update)
            np.multiply(update, update, out=buf)
            np.multiply(buf, one_minus_rho, out=buf)
            np.multiply(acc_upd, rho, out=acc_upd)
            np.add(acc_upd, buf, out=acc_upd)
            np.multiply(update, lr, out=update)
            np.subtract(w, update, out=w)
            return w
        return apply_adadelta


def apply_adadelta(var, accum, accum_update, lr, rho, epsilon, grad, use_locking=False, name=None):
    return _apply("ApplyAdadelta", [var, accum, accum_update, lr, rho, epsilon, grad], use_locking, name)

