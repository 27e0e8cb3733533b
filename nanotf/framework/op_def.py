"""The op registry: every op type is ONE class holding its whole definition.

    class MatMul(OpDef):
        def infer(op):          -> [(dtype, shape), ...]  static dtype/shape of each output,
                                   raising ValueError at graph-build time on a mismatch
        def kernel(op, ctx):    -> fn(*input_arrays) returning the output array (a tuple of
                                   arrays for several outputs, None for none); built once
                                   per Session, so attrs are read here, not per run
        def grad(op, *grads):   -> one gradient Tensor (or None) per input, built from ops
        def lower(op, *inputs): -> the XLA lowering: output (or tuple of outputs) as jax.numpy/lax
                                   values, for the XLA backend (docs/xla.md); None: runs on the host
        samples = [Sample(...)] -> inputs for the generic tests (shape rule vs kernel output,
                                   finite-difference gradient check, the aliasing facts below)

Methods are plain functions (no self): `OpDef.lookup("MatMul").infer(op)`.
`grad = None` declares an op not differentiable; leaving `grad` undefined makes
`gradients()` raise LookupError, as TensorFlow does for an op with no gradient.

XLA lowerings (`lower`) use `from nanotf.framework import lowering as xla` and name `xla.jnp`, `xla.lax`,
`xla.jax` only inside the function (at call time): `import nanotf` never imports JAX. Inputs arrive as JAX
values or as NumPy arrays when known while tracing (read compile-time constants with `xla.static_value`).
Three facts change how the XLA backend calls or places the lowering:
    lower_updates_refs = True    the op updates variables through `ref_inputs` (Assign*, Apply*): the ref
                                 inputs arrive as the variables' current values and `lower` returns their
                                 new values (a tuple when several); the op's output is the first of them.
    lower_takes_key = True       random ops: `lower(op, key, *inputs)`, key a jax.random key derived from
                                 the op's seeds and how many times it has run (nanotf/xla/rng.py).
    lower_passes_handles = True  the op's string-typed inputs/outputs are handles that lowerings exchange while
                                 tracing (If/While's trace for IfGrad/WhileGrad), not strings: the op still
                                 runs inside the XLA computation (string tensors otherwise keep an op on the host).
tests/test_xla_ops.py checks every lowering against the kernel on the samples.

Aliasing facts (tests/test_op_registry.py checks them for every op with samples; a wrong fact
corrupts values, so they are facts, not hints). Input indices count every input, ref inputs too.
    view_map = {k: (i, ...)}     output k may BE input i or a view of it (Reshape: {0: (0,)}; Assign's
                                 output is the variable's storage: {0: (0,)}). Outputs not listed never
                                 share memory with any input. Ops whose number of outputs depends on an
                                 attr (Split, Unpack) declare a function `view_map(op) -> dict` instead;
                                 read it through `view_map_of(op)`, which also covers `is_identity`.
    destroy_map = {k: (i, ...)}  computing output k may overwrite input i (PyTensor's meaning). The op's
                                 one kernel then takes a keyword `out=`: the compiler passes the array of
                                 input i there only when it is a dead temporary with output k's static
                                 shape and dtype. Elementwise kernels write output k into it and return it
                                 (Add: np.add(a, b, out=out)); an op whose output is a variable's storage
                                 uses it as scratch (ApplyGradientDescent scales `delta` where it lies).
                                 `out=None` (the default) allocates; runtime shapes that do not fit (an
                                 unknown dim broadcasting larger) allocate too (`writes_into` does both).
    fresh_output = True          every output is a new writeable ndarray (or a NumPy scalar) that no
                                 input, no session state and no later call shares: a consumer may
                                 overwrite it, and walks through the graph for aliases stop here.
    is_identity = True           the kernel returns input 0 itself (implies view_map {0: (0,)}): the
                                 plan aliases the value and calls nothing.
Apart from what these declare, kernels never write into their inputs (inputs may be user arrays or
variable storage).

Fused kernels are ops too: `_FusedMatMulApplyGradientDescent` is MatMul feeding ApplyGradientDescent's
`delta`, with the producer's inputs first, then the consumer's others. `FUSION_RULES` lists the pairs
a compiler may replace by their fused op; `make_fused_node` builds the Operation-like node it passes to
the fused op's kernel.
"""
import collections

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
    view_map = {}             # {output: (input, ...)}: that output may be (a view of) these inputs (see above)
    destroy_map = {}          # {output: (input, ...)}: the kernel's `out=` may be that input's array (see above)
    fresh_output = False      # every output is a new array nobody else holds (a consumer may overwrite it)
    is_identity = False       # kernel returns input 0 itself: the plan aliases it instead of calling
    shape_only_inputs = ()    # input indices the kernel reads only for their shape (foldable when static)
    elementwise = False       # output element i depends only on the inputs' (broadcast) element i: a
                              #   kernel writing into `out=` may run on slices of axis 0 concurrently
    row_wise = False          # True: output row i depends only on row i of input 0 (other inputs whole, free of
                              #   the batch); or fn(op, sliced_flags) -> bool. Lets a big batch run in slices
                              #   (compiler/chunking.py). `elementwise` ops are row-wise by their own rule
    splits_work = False       # kernel splits big work over the intra-op pool: plans holding it run BLAS
                              #   single-threaded and split big products too (see framework/parallel.py)
    lower = None              # XLA lowering fn(op, *inputs) beside the kernel (see above); None: host only
    lower_updates_refs = False  # lower returns the ref inputs' new values (see above)
    lower_takes_key = False   # lower takes a jax.random key first (random ops)
    lower_passes_handles = False  # string-typed tensors of the op are trace handles, not strings (see above)
    samples = ()

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


def define_op(type_name, module, doc=None, **body):
    """Registers the op type `type_name` from a table entry (families of alike ops: comparisons,
    activations): an OpDef subclass of that name whose attributes are `body` (functions in it are
    called without self, as methods written in a class body are)."""
    return type(type_name, (OpDef,), dict(body, __module__=module, __qualname__=type_name, __doc__=doc))


# -- reading the aliasing facts
def view_map_of(op):
    """{output index: input indices it may be (a view of)} for this op (`is_identity` included)."""
    d = op._def
    vm = d.view_map(op) if callable(d.view_map) else d.view_map
    if d.is_identity and 0 not in vm.get(0, ()):
        vm = dict(vm)
        vm[0] = (0,) + tuple(vm.get(0, ()))
    return vm


def every_output_views(*inputs):
    """A `view_map` function for ops whose outputs (however many the attrs make) are all views of `inputs`."""
    inputs = tuple(inputs)
    return lambda op: {k: inputs for k in range(len(op._outputs))}


def writes_into(fn):
    """The `out=` kernel of an elementwise `fn(*arrays, out=...)` (a ufunc or alike): writes into `out`
    when given, allocating instead when broadcasting makes the result larger than `out`."""
    def kernel(*args, out=None):
        if out is None:
            return fn(*args)
        try:
            return fn(*args, out=out)
        except ValueError:   # "non-broadcastable output operand": the result does not fit
            return fn(*args)
    return kernel


# -- fused ops and the rewrite table
FusionRule = collections.namedtuple("FusionRule", "consumer producer input_index fused producer_inputs producer_attrs")
FusionRule.__doc__ = """A compiler may run `producer` (with `producer_inputs` inputs and the attrs named in
`producer_attrs`) feeding input `input_index` of `consumer` as the one op `fused` (registered like any op)."""

FUSION_RULES = [
    # the SGD update of a dense layer's weights with the matmul computing their gradient
    FusionRule(consumer="ApplyGradientDescent", producer="MatMul", input_index=2,
               fused="_FusedMatMulApplyGradientDescent", producer_inputs=2,
               producer_attrs=("transpose_a", "transpose_b")),
    # Adam's update with the same matmul, in bands of rows that stay in cache
    FusionRule(consumer="ApplyAdam", producer="MatMul", input_index=9, fused="_FusedMatMulApplyAdam",
               producer_inputs=2, producer_attrs=("transpose_a", "transpose_b")),
    # a conv layer's bias added to each block of the convolution's output while it is in cache
    FusionRule(consumer="BiasAdd", producer="Conv2D", input_index=0, fused="_FusedConv2DBiasAdd",
               producer_inputs=2, producer_attrs=("strides", "padding", "dilations", "use_cudnn_on_gpu")),
    # ... and the ReLU after it (a fused op is a producer like any other: fusions chain)
    FusionRule(consumer="Relu", producer="_FusedConv2DBiasAdd", input_index=0, fused="_FusedConv2DBiasAddRelu",
               producer_inputs=3, producer_attrs=("strides", "padding", "dilations", "use_cudnn_on_gpu",
                                                  "data_format")),
    # a ReLU layer's gradient through the max pool above it, masked on the pooled (smaller) gradient
    FusionRule(consumer="ReluGrad", producer="MaxPoolGrad", input_index=0, fused="_FusedMaxPoolGradReluGrad",
               producer_inputs=3, producer_attrs=("ksize", "strides", "padding", "data_format")),
    # a sum of squares (l2_normalize's) without the square as big as its input
    FusionRule(consumer="Sum", producer="Square", input_index=0, fused="_FusedSquareSum", producer_inputs=1,
               producer_attrs=()),
]


class FusedNode:
    """What a compiler hands the fused op's kernel for a matched (consumer, producer) pair: it quacks like
    an Operation of the fused type, named as the consumer, with the producer's inputs then the consumer's
    others, the consumer's outputs and both ops' attrs."""

    def __init__(self, rule, consumer, producer):
        self.rule, self.consumer, self.producer = rule, consumer, producer
        self._type = rule.fused
        self._def = OpDef.lookup(rule.fused)
        self._name = consumer._name
        self._graph = consumer._graph
        self._inputs = tuple(producer._inputs) + tuple(t for j, t in enumerate(consumer._inputs)
                                                       if j != rule.input_index)
        self._outputs = consumer._outputs
        self._attrs = {**producer._attrs, **consumer._attrs}

    name = property(lambda self: self._name)
    type = property(lambda self: self._type)
    graph = property(lambda self: self._graph)
    inputs = property(lambda self: list(self._inputs))
    outputs = property(lambda self: list(self._outputs))

    def __repr__(self):
        return "<FusedNode %r %s = %s + %s>" % (self._name, self._type, self.producer._type, self.consumer._type)


def make_fused_node(rule, consumer, producer):
    return FusedNode(rule, consumer, producer)


class _Part:
    """The producer or the consumer inside a fused op, for running their shape rules."""

    def __init__(self, op, op_type, inputs, attrs):
        self._name, self._type, self._graph = op._name, op_type, op._graph
        self._inputs, self._attrs = tuple(inputs), attrs
        self._def = OpDef.lookup(op_type)     # shape rules may read class facts (e.g. a reduction's input kinds)

    name = property(lambda self: self._name)
    type = property(lambda self: self._type)
    inputs = property(lambda self: list(self._inputs))


class _StaticValue:
    """The producer's output as the consumer's shape rule sees it: a dtype and a static shape."""

    def __init__(self, dtype, shape, op):
        from nanotf.framework.tensor_shape import as_shape
        self.dtype, self.shape, self.op, self._op = dtype, as_shape(shape), op, op
        self.name = op._name + ":product"


class FusedOpDef(OpDef):
    """Base of the fused ops (not differentiable: gradients are built before any fusion): the shape rule
    is the producer's, then the consumer's on its result."""

    abstract = True
    grad = None

    @classmethod
    def rule(cls):
        return next(r for r in FUSION_RULES if r.fused == cls.type_name)

    @classmethod
    def infer(cls, op):
        rule = cls.rule()
        n = rule.producer_inputs
        producer = _Part(op, rule.producer, op._inputs[:n], {a: op._attrs[a] for a in rule.producer_attrs})
        (dtype, shape), = _specs(OpDef.lookup(rule.producer).infer(producer))
        ins = list(op._inputs[n:])
        ins.insert(rule.input_index, _StaticValue(dtype, shape, producer))
        consumer = _Part(op, rule.consumer, ins, {a: v for a, v in op._attrs.items() if a not in rule.producer_attrs})
        return OpDef.lookup(rule.consumer).infer(consumer)


def _specs(specs):
    """infer's result as a list of (dtype, shape) (one pair may be returned bare)."""
    from nanotf.framework.dtypes import DType
    if isinstance(specs, tuple) and len(specs) == 2 and isinstance(specs[0], DType):
        return [specs]
    return list(specs)
