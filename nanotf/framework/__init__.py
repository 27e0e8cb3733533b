"""The graph layer: dtypes, shapes, Graph/Operation/Tensor, the op registry and errors."""
