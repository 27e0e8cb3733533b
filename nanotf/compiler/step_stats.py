"""TensorFlow-style StepStats of a traced run (RunOptions.FULL_TRACE): one NodeExecStats per step.

A step is named as TensorFlow names a kernel: `node_name` the op's name (a fused step: its consumer's),
`timeline_label` "name = Type(input, ...)" with the type of the kernel that ran (a fused step shows
its fused type, e.g. `_FusedMatMulApplyGradientDescent`), start and duration, and per output its
dtype, shape and bytes.
"""
import time

import numpy as np

DEVICE = "/job:localhost/replica:0/task:0/device:CPU:0"


def _input_name(t):
    name = t.name
    return name[:-2] if name.endswith(":0") else name


def fill(run_metadata, steps, records):
    """Appends to run_metadata.step_stats the `records` [(step index, start ns, end ns, outputs)]."""
    wall0_us = int(time.time() * 1e6)
    first = records[0][1] if records else 0
    dev = run_metadata.step_stats.dev_stats.add()
    dev.device = DEVICE
    for i, t0, t1, outs in records:
        step = steps[i]
        op = step.op
        ns = dev.node_stats.add()
        ns.node_name = op.name
        ns.timeline_label = "%s = %s(%s)" % (op.name, op.type, ", ".join(_input_name(t) for t in op._inputs))
        ns.all_start_micros = wall0_us + (t0 - first) // 1000
        ns.all_start_nanos = ns.all_start_micros * 1000
        ns.op_end_rel_micros = ns.all_end_rel_micros = max((t1 - t0) // 1000, 1)
        ns.op_end_rel_nanos = ns.all_end_rel_nanos = t1 - t0
        total = 0
        for slot, v in enumerate(outs):
            arr = v if isinstance(v, np.ndarray) else np.asarray(v) if isinstance(v, (np.generic, float, int)) else None
            out = ns.output.add()
            out.slot = slot
            td = out.tensor_description
            td.dtype = step.outputs[slot].dtype.as_datatype_enum
            if arr is not None:
                for d in arr.shape:
                    td.shape.dim.add().size = d
                nbytes = int(arr.nbytes)
                td.allocation_description.requested_bytes = nbytes
                td.allocation_description.allocated_bytes = nbytes
                td.allocation_description.allocator_name = "cpu"
                total += nbytes
        mem = ns.memory.add()
        mem.allocator_name = "cpu"
        mem.total_bytes = total
        mem.peak_bytes = total


def fill_whole_run(run_metadata, label, start_ns, end_ns):
    """One node for a whole run, for a backend that cannot time its kernels one by one."""
    dev = run_metadata.step_stats.dev_stats.add()
    dev.device = DEVICE
    ns = dev.node_stats.add()
    ns.node_name = label
    ns.timeline_label = "%s = %s()" % (label, label)
    ns.all_start_micros = int(time.time() * 1e6) - (end_ns - start_ns) // 1000
    ns.all_start_nanos = ns.all_start_micros * 1000
    ns.op_end_rel_micros = ns.all_end_rel_micros = max((end_ns - start_ns) // 1000, 1)
    ns.op_end_rel_nanos = ns.all_end_rel_nanos = end_ns - start_ns
