"""FuncGraph: a Python function traced into a graph of its own, as TF 2's functional control flow does.

A while loop's cond and body and each branch of a cond are traced into a FuncGraph. The functional op
that holds them (While, If in ops/control_flow_ops.py) lives in the enclosing graph and takes, as
explicit inputs, every outer tensor the function uses ("captures"): when an op inside the function is
built on an outer tensor, the FuncGraph replaces it with a placeholder of its own and remembers the pair.
So the function graph is self-contained: its kernel runs it as a plan of its own, fed with the loop
variables and the captured values, compiled once per Session (`CompiledFunction`).

Three things cross the boundary differently:
- a variable's storage (a VariableV2 tensor, as `v.read_value()` or `tf.assign_add(v, ...)` use it) is
  used as it is, so that the function reads its current value and updates it in place every iteration;
- a variable created while tracing (a cell's weights built on the first call inside dynamic_rnn's loop)
  is lifted into the outermost graph with its initializer, as TF's init_scope does;
- a gradient function (the body's gradient, built by tf.gradients) uses tensors of the forward function
  graph: these become "intermediates", placeholders fed with the values the forward op recorded.

Names, collections, variable stores, the graph seed and op ids are shared with the outermost graph, so
names stay unique across graphs (inner ops show as `while/...`), `tf.get_variable` finds the variables
of the enclosing program, and creation order stays a topological order across graphs.
"""
from nanotf.framework import dtypes
from nanotf.framework.ops import Graph, Operation, Tensor
from nanotf.framework.tensor_shape import as_shape

# Ops whose type reads a lifted variable in the way its constructor does: these follow it out.
_LIFT_WITH_VARIABLE = ("Assign", "Identity")


class FuncGraph(Graph):
    """The graph of one traced function. `outer_graph` is the graph it was traced in."""

    def __init__(self, name, outer_graph, forward_graphs=None):
        # Graph.__init__ is not called: several of its fields are the outermost graph's (properties below).
        self.name = name
        self.outer_graph = outer_graph
        self._root = getattr(outer_graph, "_root", outer_graph)
        self._ops = []
        self._ops_by_name = {}
        self._name_stack = ""
        self._control_dependencies_stack = []
        self._device_stack = list(outer_graph._device_stack)
        self._finalized = False
        self.inputs = []             # argument placeholders, in order
        self.outputs = []            # returned tensors, in order
        self.control_outputs = []    # ops to run although no output needs them (stateful ops)
        self.captures = {}           # outer tensor -> placeholder of this graph, in capture order
        self.intermediates = {}      # forward-graph tensor -> placeholder (gradient functions only)
        self.outer_control_deps = []  # outer ops the function waits for: control inputs of its op
        # forward function graph -> fn(tensor) giving the outer tensor its capture placeholder stands for
        self.forward_graphs = dict(forward_graphs or {})

    # -- shared with the outermost graph: read here, changed there
    _names_in_use = property(lambda self: self._root._names_in_use)
    _collections = property(lambda self: self._root._collections)
    _version = property(lambda self: self._root._version)

    def _next_id(self):
        return self._root._next_id()

    def _shared(name):   # noqa: N805 - builds a property reading and writing an attribute of the outermost graph
        return property(lambda self: getattr(self._root, name, None),
                        lambda self, v: setattr(self._root, name, v))
    seed = _shared("seed")
    _vars_store = _shared("_vars_store")
    _var_scope_store = _shared("_var_scope_store")
    del _shared

    # -- what may cross the boundary
    def _captures_from(self, graph):
        return graph is self.outer_graph or graph in self.forward_graphs or self.outer_graph._captures_from(graph)

    def _may_use_directly(self, tensor):
        return tensor.op.type == "VariableV2" and (tensor.graph is self._root or self._captures_from(tensor.graph))

    def capture(self, t):
        """The tensor of this graph standing for `t` (of an enclosing or forward graph)."""
        if t.graph is self or self._may_use_directly(t):
            return t
        ph = self.captures.get(t)
        if ph is None:
            ph = self.intermediates.get(t)
        if ph is not None:
            return ph
        g = t.graph
        if g in self.forward_graphs:
            outer = self.forward_graphs[g](t)
            if outer is not None:          # a capture of the forward function: its outer value is loop-invariant
                return self.capture(outer)
            ph = self.intermediates[t] = self._placeholder(t, "intermediate")
            return ph
        if g is self.outer_graph:
            ph = self.captures[t] = self._placeholder(t, "capture")
            return ph
        if isinstance(self.outer_graph, FuncGraph) and self.outer_graph._captures_from(g):
            return self.capture(self.outer_graph.capture(t))
        raise ValueError("Tensor %s is from a different graph and cannot be used in the function %r"
                         % (t.name, self.name))

    def _placeholder(self, t, kind):
        saved, self._control_dependencies_stack = self._control_dependencies_stack, []
        try:
            return Graph.create_op(self, "Placeholder", [], {"dtype": t.dtype, "shape": t.shape},
                                   name="%s/%s" % (self.name, kind)).outputs[0]
        finally:
            self._control_dependencies_stack = saved

    def add_argument(self, dtype, shape, name="arg"):
        """A new argument placeholder (a loop variable, an incoming gradient)."""
        ph = Graph.create_op(self, "Placeholder", [], {"dtype": dtypes.as_dtype(dtype), "shape": as_shape(shape)},
                             name=name).outputs[0]
        self.inputs.append(ph)
        return ph

    # -- op creation
    def create_op(self, op_type, inputs, attrs=None, name=None, control_inputs=()):
        if op_type == "VariableV2":
            return self._lift_variable(op_type, inputs, attrs, name, control_inputs)
        inputs = [self.capture(t) if isinstance(t, Tensor) and t.graph is not self else t for t in inputs]
        if op_type in _LIFT_WITH_VARIABLE and inputs and self._is_new_variable(inputs[0], op_type):
            return self._lift_initializer(op_type, inputs, attrs, name, control_inputs)
        own = []
        for c in control_inputs:
            (own if c.graph is self else self.outer_control_deps).append(c)
        return Graph.create_op(self, op_type, inputs, attrs, name, own)

    def control_dependencies(self, control_inputs):
        if control_inputs is None:
            return Graph.control_dependencies(self, None)
        own = []
        for c in control_inputs:
            if hasattr(c, "_as_graph_element"):
                c = c._as_graph_element()
            el = c.op if isinstance(c, Tensor) else c
            if isinstance(el, Operation) and el.graph is not self:
                if el not in self.outer_control_deps:
                    self.outer_control_deps.append(el)
            else:
                own.append(c)
        return Graph.control_dependencies(self, own)

    # -- variables created while tracing are lifted into the outermost graph
    def _lift_variable(self, op_type, inputs, attrs, name, control_inputs):
        root = self._root
        with root.control_dependencies(None):
            op = Graph.create_op(root, op_type, [], attrs, name=self._full_name(name or op_type))
        root.__dict__.setdefault("_lifted_variables", {})[op] = "created"
        return op

    def _full_name(self, name):
        """`name` made unique under this graph's name scope, as a verbatim name for the outermost graph
        (the name table is shared, so it stays unique there)."""
        return name if name.endswith("/") else self.unique_name(name) + "/"

    def _is_new_variable(self, t, op_type):
        state = self._root.__dict__.get("_lifted_variables", {}).get(t.op)
        return (op_type == "Assign" and state == "created") or (op_type == "Identity" and state == "assigned")

    def _lift_initializer(self, op_type, inputs, attrs, name, control_inputs):
        """The variable's initializer (Assign of its initial value) and snapshot (Identity) go with it."""
        root = self._root
        lifted = root.__dict__["_lifted_variables"]
        moved = [self._move_to_root(t) for t in inputs]
        lifted[inputs[0].op] = "assigned" if op_type == "Assign" else "done"
        with root.control_dependencies(None):
            return Graph.create_op(root, op_type, moved, attrs, self._full_name(name or op_type))

    def _move_to_root(self, t):
        """Moves the ops computing `t` (an initial value built inside the function) to the outermost graph."""
        root = self._root
        if t.graph is root:
            return t
        if t.graph is not self:
            raise ValueError("The initial value of a variable created inside %r depends on %s, of another "
                             "function graph; create the variable outside the loop or cond" % (self.name, t.name))
        op = t.op
        if op.type == "Placeholder":
            outer = next((o for o, p in self.captures.items() if p is t), None)
            if outer is None:
                raise ValueError("The initial value of a variable created inside %r depends on %s, an argument "
                                 "of the function (e.g. a loop variable): variables are created once, outside "
                                 "the loop; give them an initial value that does not depend on loop variables"
                                 % (self.name, t.name))
            return outer if outer.graph is root else self.outer_graph._move_to_root(outer)
        new_inputs = [self._move_to_root(x) for x in op._inputs]
        for old, new in zip(op._inputs, new_inputs):
            if old is not new:
                old._consumers.remove(op)
                new._consumers.append(op)
        op._inputs = tuple(new_inputs)
        op._control_inputs = [c for c in op._control_inputs if c.graph is root]
        self._ops.remove(op)
        del self._ops_by_name[op._name]
        op._graph = root
        root._ops.append(op)
        root._ops_by_name[op._name] = op
        return t


def trace(name, outer_graph, fn, arg_specs, name_scope="", forward_graphs=None):
    """Traces fn(*args) into a new FuncGraph whose arguments are placeholders of `arg_specs`
    ((dtype, shape, name) each). Returns (graph, raw result of fn)."""
    g = FuncGraph(name, outer_graph, forward_graphs)
    g._name_stack = name_scope
    with g.as_default():
        args = [g.add_argument(dt, sh, nm) for dt, sh, nm in arg_specs]
        result = fn(*args)
    return g, result


def finish(g, outputs):
    """Records the function's outputs and the stateful ops it must run even when no output needs them."""
    # an output may be an outer tensor returned as it is (`lambda: x`): it becomes a capture
    g.outputs = [g.capture(t) if isinstance(t, Tensor) and t.graph is not g else t for t in outputs]
    g.control_outputs = [op for op in g._ops if op._def.stateful and op.type not in ("Placeholder",)]
    return g


class CompiledFunction:
    """A function graph compiled into a plan for one Session: `fn(*args)` -> list of fetched values.

    `feeds` are placeholders of the graph fed in this order; `fetches` the tensors (or ops) wanted. A fetch
    that is one of the feeds is served from the arguments without running or copying anything."""

    def __init__(self, runtime, graph, feeds, fetches, extra=()):
        from nanotf import compiler
        from nanotf.client import session
        self.graph = graph
        self._op_error = session._op_error
        position = {t: i for i, t in enumerate(feeds)}
        computed = []
        self.sources = []   # per fetch: (True, feed index) or (False, plan output index)
        for t in fetches:
            if isinstance(t, Tensor) and t in position:
                self.sources.append((True, position[t]))
            else:
                self.sources.append((False, len(computed)))
                computed.append(t)
        elements = computed + [op for op in list(graph.control_outputs) + list(extra) if op not in computed]
        self.plan = compiler.compile_run(runtime, elements, tuple(feeds), top_level=False)
        self._fn = self.plan.fn
        self.direct = all(not from_arg and i == k for k, (from_arg, i) in enumerate(self.sources))
        self.n_fetches = len(self.sources)

    def __call__(self, *args):
        try:
            outs = self._fn(*args)
        except Exception as e:
            from nanotf.framework import errors
            if isinstance(e, errors.OpError):
                raise
            raise self._op_error(e) from e
        if self.direct:
            return outs[:self.n_fetches] if len(outs) != self.n_fetches else outs
        return [args[i] if from_arg else outs[i] for from_arg, i in self.sources]



# -- TensorBoard: function graphs drawn inside their op's group
_FUNCTION_ATTRS = ("cond", "body", "then", "else", "grad_body", "graphs")


def _function_graphs(op):
    for key in _FUNCTION_ATTRS:
        v = op._attrs.get(key)
        for g in (v if isinstance(v, (list, tuple)) else [v]):
            if isinstance(g, FuncGraph):
                yield g


def add_function_nodes(graph, graph_def, add_shapes=False):
    """Appends to `graph_def` the ops of the function graphs its While/If ops (and their gradients) hold.

    Their names are already under the op's scope (`while/add`), so TensorBoard draws them inside the loop's
    group (the op itself shows as `while/(while)`). A placeholder standing for a captured tensor, or for a
    forward value a gradient function reads, is left out and its edges drawn from that tensor instead;
    the argument placeholders (loop variables, incoming gradients) stay."""
    from nanotf.framework.graph_def import op_to_node_def
    stack = [g for op in graph._ops for g in _function_graphs(op)]
    seen = set()
    while stack:
        g = stack.pop()
        if g in seen:
            continue
        seen.add(g)
        stand_ins = {}
        for outer, ph in g.captures.items():
            stand_ins[ph] = outer
        for fwd, ph in g.intermediates.items():
            stand_ins[ph] = fwd
        for op in g._ops:
            if op.type == "Placeholder" and op._outputs[0] in stand_ins:
                continue
            node = op_to_node_def(op, add_shapes)
            for k, t in enumerate(op._inputs):
                src = _source(t)
                if src is not t:
                    node.input[k] = src._as_node_def_input()
            graph_def.node.extend([node])
            stack.extend(_function_graphs(op))
    return graph_def


def _source(t):
    """The tensor a capture or intermediate placeholder stands for, followed out through nested graphs."""
    while isinstance(t.graph, FuncGraph) and t.op.type == "Placeholder":
        g = t.graph
        outer = next((o for o, p in g.captures.items() if p is t), None)
        if outer is None:
            outer = next((f for f, p in g.intermediates.items() if p is t), None)
        if outer is None:
            return t
        t = outer
    return t
