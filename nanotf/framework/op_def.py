"""The op registry: every op type is ONE class holding its whole definition.

    class MatMul(OpDef):
        def infer(op):          -> [(dtype, shape), ...]  static dtype/shape of each output,
                                   raising ValueError at graph-build time on a mismatch
        def kernel(op, ctx):    -> fn(*input_arrays) returning the output array (a tuple of
                                   arrays for several outputs, None for none); built once
                                   per Session, so attrs are read here, not per run
        def grad(op, *grads):   -> one gradient Tensor (or None) per input, built from ops
        def inplace(op, ctx):   -> optional: a kernel writing its result into input 0, used by the
                                   Session when input 0 is a dead temporary of the same shape
        samples = [Sample(...)] -> inputs for the generic tests (shape rule vs kernel output,
                                   finite-difference gradient check)

Methods are plain functions (no self): `OpDef.lookup("MatMul").infer(op)`.
`grad = None` declares an op not differentiable; leaving `grad` undefined makes
`gradients()` raise LookupError, as TensorFlow does for an op with no gradient.
"""
_REGISTRY = {}
_NO_GRAD = object()


class Sample:
    """One way to exercise an op in the generic tests.

    build: fn(*input_tensors) -> Tensor built through the public API.
    inputs: per input, a shape tuple (random float64 normal values), or a concrete
            array (used as given), or a callable rng -> array.
    grad: check the gradient by finite differences w.r.t. these input indices
          (default: every floating input; () to skip).
    """

    def __init__(self, build, inputs, grad=None, atol=1e-6, rtol=1e-4, feed=True):
        self.build = build
        self.inputs = list(inputs)
        self.grad = grad
        self.atol = atol
        self.rtol = rtol
        self.feed = feed


class OpDef:
    """Base of every op definition. Subclasses register themselves under `type_name`
    (default: the class name), which is the TensorFlow op type shown in TensorBoard."""

    type_name = None
    grad = _NO_GRAD
    stateful = False          # random ops, variables, assignments: never folded or deduplicated
    ref_inputs = ()           # input indices that are variable references, not values to compute
    forwards_input = False    # kernel may return (a view of) input 0 unchanged
    fresh_output = False      # kernel returns new arrays it keeps no reference to (a consumer may reuse them)
    inplace = None            # optional fn(op, ctx) -> kernel that may overwrite input `inplace_input`
    inplace_input = 0
    fuse = {}                 # producer op type -> fn(op, producer, ctx): one kernel for both, taking the
    fuse_input = 0            #   producer's inputs then this op's others (input `fuse_input` is the product)
    shape_only_inputs = ()    # input indices the kernel reads only for their shape (foldable when static)
    is_identity = False       # kernel returns input 0 itself: the plan aliases it instead of calling
    elementwise = False       # output element i depends only on the inputs' (broadcast) element i: the
                              #   in-place kernel may run on slices of axis 0 concurrently
    row_wise = False          # True: output row i depends only on row i of input 0 (other inputs whole, free of
                              #   the batch); or fn(op, sliced_flags) -> bool. Lets a big batch run in slices
                              #   (client/_chunking.py). `elementwise` ops are row-wise by their own rule
    splits_work = False       # kernel splits big work over the intra-op pool: plans holding it run BLAS
                              #   single-threaded and split big products too (see framework/parallel.py)
    samples = ()
    num_outputs_hint = None

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        name = cls.__dict__.get("type_name") or cls.__name__
        cls.type_name = name
        if cls.__dict__.get("abstract", False):
            return
        where = "%s.%s" % (cls.__module__, cls.__qualname__)  # cheap: import time matters
        if name in _REGISTRY and _REGISTRY[name]._where != where:
            raise KeyError("Op type %r registered twice: at %s and at %s" % (name, _REGISTRY[name]._where, where))
        cls._where = where
        _REGISTRY[name] = cls

    @staticmethod
    def lookup(type_name):
        try:
            return _REGISTRY[type_name]
        except KeyError:
            raise KeyError("No op registered under type %r" % (type_name,)) from None

    @classmethod
    def has_gradient(cls):
        return cls.grad is not _NO_GRAD

    @classmethod
    def is_differentiable(cls):
        return cls.grad is not _NO_GRAD and cls.grad is not None


def registered_ops():
    """Every registered op definition, by type name."""
    return dict(_REGISTRY)
