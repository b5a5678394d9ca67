"""sd.vectorize(target="cuda") on numba-cuda's simulator, which has no vectorize: a kernel maps the function.

Only the simulator runs this kernel: it is plain Python there, so it takes a
tuple of arrays and calls the device function with any number of arguments.
"""
import numpy as np
from numba import cuda


class SimulatedUfunc:
    def __init__(self, device_function, dtypes, result):
        self.dtypes = [_dtype(t) for t in dtypes]
        self.result = _dtype(result)

        @cuda.jit
        def each(out, inputs):
            i = cuda.grid(1)
            if i < out.shape[0]:
                out[i] = device_function(*[a[i] for a in inputs])
        self.kernel = each

    def __call__(self, *arrays):
        arrays = np.broadcast_arrays(*arrays)
        inputs = tuple(np.ascontiguousarray(a, d).ravel() for a, d in zip(arrays, self.dtypes))
        out = np.empty(arrays[0].size, self.result)
        if out.size:
            self.kernel[(out.size + 31) // 32, 32](out, inputs)
        return out.reshape(arrays[0].shape)


def _dtype(numba_type):
    return "bool" if numba_type == "boolean" else numba_type
