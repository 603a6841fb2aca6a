"""PyTorch's type promotion: the dtype an op computes in when its operands' dtypes differ.

NumPy and PyTorch agree while every operand has a dimension and the same kind (bool, integer,
floating): the widest dtype wins, so float32 + float64 is float64. They part in two places, and
a float32 model meets both:
  - kinds differ: NumPy makes int64 + float32 float64; in PyTorch the floating operand decides,
    so it is float32 (an integer never widens a float);
  - a 0-d operand (a loss, `engine.tensor(2.0, dtype=np.float64)`) beside dimensioned ones of
    its kind: NumPy lets it widen them, PyTorch does not (the dimensioned ones decide).
A Python number is weaker still: `float32 * 0.5` stays float32, and `int64 * 0.5` is float32,
PyTorch's default float (`Function.apply` makes such numbers 0-d arrays of that dtype).
Where the math leaves the integers (`/`, exp, log, a mean, a float power or bound), integers
become float32. Comparisons, `cat` and `stack` promote too; every gradient goes back in its
input's dtype (engine/backward.py's `backprop`).
"""

import numpy as np

KIND_RANK = {"b": 0, "u": 1, "i": 1, "f": 2}  # bool < integer < floating


def result_type(*arrays):
    """The dtype PyTorch gives an op on `arrays` (ndarrays, 0-d ones included): the highest kind
    wins; among its operands, dimensioned ones decide over 0-d ones, and the widest dtype wins."""
    top = max(KIND_RANK[a.dtype.kind] for a in arrays)
    deciding = [a for a in arrays if KIND_RANK[a.dtype.kind] == top]
    dimensioned = [a.dtype for a in deciding if a.ndim]
    return np.result_type(*(dimensioned or [a.dtype for a in deciding]))


def promote(arrays, which, floating=False):
    """`arrays` with those at the indices `which` ("all": every one) cast to one dtype, their
    `result_type` (with `floating`, float32 if that is bool or integer); the others as they
    were. Where they share a dtype already (the usual case), `arrays` itself."""
    which = range(len(arrays)) if which == "all" else which
    dtypes = [arrays[i].dtype for i in which]
    if dtypes.count(dtypes[0]) == len(dtypes) and (not floating or dtypes[0].kind == "f"):
        return arrays
    dtype = result_type(*(arrays[i] for i in which))
    if floating and dtype.kind != "f":
        dtype = np.dtype(np.float32)
    return [a.astype(dtype) if i in which and a.dtype != dtype else a for i, a in enumerate(arrays)]
