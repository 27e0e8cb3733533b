"""tf.initializers: TF 1.15's short names for the initializer classes (tf.initializers.glorot_uniform()...)
and for the variable-initializing ops (tf.initializers.global_variables())."""
from nanotf.ops.init_ops import (Constant as constant, GlorotNormal as glorot_normal,  # noqa: F401
                                 GlorotUniform as glorot_uniform, Identity as identity, Ones as ones,
                                 Orthogonal as orthogonal, RandomNormal as random_normal,
                                 RandomUniform as random_uniform, TruncatedNormal as truncated_normal,
                                 UniformUnitScaling as uniform_unit_scaling, VarianceScaling as variance_scaling,
                                 Zeros as zeros, he_normal, he_uniform, lecun_normal, lecun_uniform)
from nanotf.ops.variables import (global_variables_initializer as global_variables,  # noqa: F401
                                  local_variables_initializer as local_variables,
                                  variables_initializer as variables)


def tables_initializer(name="init_all_tables"):
    """nanotf has no lookup tables: a no-op, as TF's is in a graph without tables."""
    from nanotf.ops import control_flow_ops
    return control_flow_ops.no_op(name=name)
