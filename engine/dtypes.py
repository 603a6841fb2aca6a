"""PyTorch's dtype names, as the NumPy dtypes they are here: `dtype=engine.long`.

As in PyTorch, `engine.float` is float32 and `engine.int` int32 (not Python's float and int),
and `engine.double`, `engine.long` and `engine.half` are float64, int64 and float16. Any NumPy
dtype works wherever a dtype is taken (`np.float64`, `"float32"`).
"""

import numpy as np

float16 = half = np.float16
float32 = np.float32
float64 = double = np.float64
uint8 = np.uint8
int8 = np.int8
int16 = short = np.int16
int32 = np.int32
int64 = long = np.int64
bool = np.bool_
float = float32
int = int32
