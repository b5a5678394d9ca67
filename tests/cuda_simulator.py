"""Calls the device functions of cuda_programs.py inside kernels; prints the results as JSON.

Run by tests/test_cuda.py in its own process with NUMBA_ENABLE_CUDASIM=1
(Numba reads it at import), which compares the results with the CPU backend.
"""
import json
import os

import numpy as np

assert os.environ.get("NUMBA_ENABLE_CUDASIM") == "1", "run me on the CUDA simulator"
from numba import cuda  # noqa: E402

import cuda_programs as cp  # noqa: E402
import sourcediff as sd  # noqa: E402

XS = np.array([0.5, 0.8, 1.3, 1.9])
YS = np.array([0.9, -0.4, 0.2, 1.3])
NS = np.array([3, cp.MAX_TRIPS, cp.MAX_TRIPS + 1, 0])     # the third overflows the tape
W = np.array([0.5, -1.0, 2.0, 0.25, 1.5])

d = {name: device for name, (device, _) in cp.device_functions().items()}
pair_jit, pair_grad, pair_vg, pair_jvp = (d["pair_energy_jit"], d["pair_energy_grad"],
                                          d["pair_energy_value_and_grad"], d["pair_energy_jvp"])
damped_grad, damped_jvp, rules_grad = d["damped_grad"], d["damped_jvp"], d["with_rules_grad"]
decay_second = d["decay_second_derivative"]
series_grad, series_jvp, settle_grad, weighted_grad = (d["series_grad"], d["series_jvp"], d["settle_grad"],
                                                       d["weighted_grad"])


@cuda.jit
def two_arguments(xs, ys, out):
    i = cuda.grid(1)
    if i < xs.shape[0]:
        x, y = xs[i], ys[i]
        out[i, 0] = pair_jit(x, y)
        gx, gy = pair_grad(x, y)
        out[i, 1], out[i, 2] = gx, gy
        value, (gx, gy) = pair_vg(x, y)
        out[i, 3], out[i, 4], out[i, 5] = value, gx, gy
        value, tangent = pair_jvp(x, y, 1.0, 0.5)
        out[i, 6], out[i, 7] = value, tangent
        gx, gy = damped_grad(x, y)
        out[i, 8], out[i, 9] = gx, gy
        value, tangent = damped_jvp(x, y, 1.0, 0.5)
        out[i, 10], out[i, 11] = value, tangent
        gx, gy = rules_grad(x, y)
        out[i, 12], out[i, 13] = gx, gy
        out[i, 14] = decay_second(x, y)


@cuda.jit
def loops(xs, ns, w, out):
    i = cuda.grid(1)
    if i < xs.shape[0]:
        x = xs[i]
        out[i, 0] = series_grad(0.5 * x, ns[i])
        value, tangent = series_jvp(0.5 * x, ns[i], 1.0)
        out[i, 1] = tangent
        out[i, 2] = settle_grad(x)
        out[i, 3] = weighted_grad(x, w)


def corpus():
    """value_and_grad of every program of cuda_programs.corpus_cases() at its points, in a kernel."""
    results = {}
    for case in cp.corpus_cases():
        device = sd.value_and_grad(case.fn, case.floats, backend="cuda", max_trips=cp.CORPUS_MAX_TRIPS)

        @cuda.jit
        def call(args, out):        # the simulator runs kernels as Python: any arguments will do
            value, grads = device(*args)
            out[0] = value
            for k in range(len(grads)):
                out[1 + k] = grads[k]
        rows = []
        for point in case.points:
            out = np.zeros(1 + len(case.floats))
            call[1, 1](point, out)
            rows.append(out.tolist())
        results[case.id] = rows
    return results


def run(kernel, *args, columns):
    out = np.zeros((len(XS), columns))
    kernel[1, len(XS)](*args, out)
    return out.tolist()


def main():
    grad_on_gpu = sd.vectorize(sd.grad(cp.pair_energy, 1), target="cuda")
    results = {
        "two_arguments": run(two_arguments, XS, YS, columns=15),
        "loops": run(loops, XS, NS, W, columns=4),
        "vectorize_cuda": grad_on_gpu(XS, YS).tolist(),
        "vectorize_cuda_jit": sd.vectorize(cp.damped, target="cuda")(XS, YS).tolist(),
        "corpus": corpus(),
    }
    print(json.dumps(results))


if __name__ == "__main__":
    main()
