"""The CUDA backend: device functions compiled to PTX, run in kernels on the simulator, and its errors.

No GPU is needed.  ``numba.cuda.compile_ptx`` runs the real CUDA compiler
(the simulator runs Python, and accepts code the compiler rejects);
``cuda_simulator.py`` runs kernels on the simulator in its own process
(Numba reads NUMBA_ENABLE_CUDASIM at import) and the results are compared
here with the CPU backend and with finite differences.
"""
import inspect
import json
import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

import cuda_programs as cp
import sourcediff as sd

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SIMULATOR = dict(os.environ, NUMBA_ENABLE_CUDASIM="1",
                 PYTHONPATH=os.pathsep.join(p for p in (ROOT, HERE, os.environ.get("PYTHONPATH")) if p))
XS, YS, W = (np.array(v) for v in ([0.5, 0.8, 1.3, 1.9], [0.9, -0.4, 0.2, 1.3], [0.5, -1.0, 2.0, 0.25, 1.5]))
NS = [3, cp.MAX_TRIPS, cp.MAX_TRIPS + 1, 0]


def simulate(script):
    out = subprocess.run([sys.executable, script], capture_output=True, text=True, env=SIMULATOR,
                         timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


@pytest.fixture(scope="module")
def simulated():
    results = json.loads(simulate(os.path.join(HERE, "cuda_simulator.py")))
    return {k: v if k == "corpus" else np.array(v) for k, v in results.items()}


@pytest.fixture(scope="module")
def fixed_device():
    """A device function's callees ask the current device for its compute capability; there is none."""
    import numba.cuda.dispatcher
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(numba.cuda.dispatcher, "get_current_device",
                      lambda: SimpleNamespace(compute_capability=(8, 0)))
        yield


# ------------------------------------------------------------------ the real compiler

@pytest.mark.parametrize("name", sorted(cp.device_functions()))
def test_compiles_to_ptx(name, fixed_device):
    from numba import cuda
    device, argument_types = cp.device_functions()[name]
    ptx, result_type = cuda.compile_ptx(device.py_func, f"({', '.join(argument_types)},)", device=True,
                                        cc=(8, 0))
    assert ".func" in ptx and "float64" in str(result_type)


def test_vectorize_cuda_builds_numbas_gpu_ufunc(fixed_device):
    ufunc = sd.vectorize(sd.grad(cp.damped, 1), target="cuda")
    assert type(ufunc).__name__ == "CUDAUFuncDispatcher"


def test_device_source_is_readable_device_code():
    damped, series = cp.device_functions()["damped_grad"][0], cp.device_functions()["series_grad"][0]
    assert damped.source.count("cuda.local.array(") == 2 and "np." not in damped.source
    assert "_rt.reserve" not in damped.source + series.source
    assert f"min(_fp, {cp.MAX_TRIPS - 1})" in series.source and "x_bar = math.nan" in series.source
    assert "_rt.cbrt(" in cp.device_functions()["pair_energy_grad"][0].source
    assert damped.py_func.__name__ == "damped_grad"


# ------------------------------------------------------------------ kernels on the simulator

def close(device, cpu):
    np.testing.assert_allclose(device, np.array(cpu, dtype=float), rtol=1e-12, atol=1e-12)


def test_straight_line_in_a_kernel(simulated):
    out = simulated["two_arguments"]
    close(out[:, 0], [cp.pair_energy(x, y) for x, y in zip(XS, YS)])
    grad = sd.grad(cp.pair_energy, (0, 1))
    close(out[:, 1:3], [grad(x, y) for x, y in zip(XS, YS)])
    close(out[:, 3:6], [(v, *g) for v, g in (sd.value_and_grad(cp.pair_energy, (0, 1))(x, y)
                                             for x, y in zip(XS, YS))])
    close(out[:, 6:8], [sd.jvp(cp.pair_energy, (x, y), (1.0, 0.5)) for x, y in zip(XS, YS)])
    h = 1e-6
    for (x, y), g in zip(zip(XS, YS), out[:, 1:3]):
        fd = [(cp.pair_energy(x + h, y) - cp.pair_energy(x - h, y)) / (2 * h),
              (cp.pair_energy(x, y + h) - cp.pair_energy(x, y - h)) / (2 * h)]
        np.testing.assert_allclose(g, fd, rtol=1e-6)


def test_bounded_loop_with_branch_and_helper(simulated):
    out = simulated["two_arguments"]
    close(out[:, 8:10], [sd.grad(cp.damped, (0, 1))(x, y) for x, y in zip(XS, YS)])
    close(out[:, 10:12], [sd.jvp(cp.damped, (x, y), (1.0, 0.5)) for x, y in zip(XS, YS)])


def test_custom_rules_in_a_kernel(simulated):
    close(simulated["two_arguments"][:, 12:14], [sd.grad(cp.with_rules, (0, 1))(x, y) for x, y in zip(XS, YS)])


def test_transform_of_a_transform_in_a_kernel(simulated):
    close(simulated["two_arguments"][:, 14], [sd.grad(sd.grad(cp.decay))(x, y) for x, y in zip(XS, YS)])


def test_loops_without_constant_bounds(simulated):
    out = simulated["loops"]
    series = [sd.grad(cp.series)(0.5 * x, n) for x, n in zip(XS, NS)]
    fits = [n <= cp.MAX_TRIPS for n in NS]
    close(out[fits, 0], np.array(series)[fits])
    assert np.isnan(out[~np.array(fits), 0]).all()     # more iterations than max_trips: nan, not a bad write
    close(out[:, 1], [sd.jvp(cp.series, (0.5 * x, n), (1.0, 0.0))[1] for x, n in zip(XS, NS)])
    close(out[:, 2], [sd.grad(cp.settle)(x) for x in XS])
    close(out[:, 3], [sd.grad(cp.weighted)(x, W) for x in XS])


@pytest.mark.parametrize("case", cp.corpus_cases(), ids=lambda case: case.id)
def test_corpus_on_the_simulator(case, simulated):
    expected = sd.value_and_grad(case.fn, case.floats, backend="python")
    for point, device in zip(case.points, simulated["corpus"][case.id]):
        value, grads = expected(*point)
        np.testing.assert_allclose(device, [value, *grads], rtol=1e-10, atol=1e-12)


def test_vectorize_on_each_target(simulated):
    grad = sd.grad(cp.pair_energy, 1)
    expected = [grad(x, y) for x, y in zip(XS, YS)]
    close(simulated["vectorize_cuda"], expected)
    close(simulated["vectorize_cuda_jit"], [cp.damped(x, y) for x, y in zip(XS, YS)])
    for target in ("cpu", "parallel"):
        close(sd.vectorize(grad, target=target)(XS, YS), expected)
    ufunc = sd.vectorize(cp.series)                      # a plain function, an int argument, broadcasting
    close(ufunc(XS[:, None], np.array([1, 2, 3])), [[cp.series(x, n) for n in (1, 2, 3)] for x in XS])


def test_gpu_forces_example_kernel_compiles_to_ptx(fixed_device):
    import importlib.util
    from numba import cuda
    spec = importlib.util.spec_from_file_location("gpu_forces", os.path.join(ROOT, "examples", "gpu_forces.py"))
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    ptx, _ = cuda.compile_ptx(example.forces_kernel.py_func,
                              "(float64[:, :], float64, float64, float64[:, :], float64[:])", cc=(8, 0))
    assert ".entry" in ptx


def test_gpu_forces_example_on_the_simulator():
    out = simulate(os.path.join(ROOT, "examples", "gpu_forces.py"))
    differences = [float(line.rsplit(" ", 1)[1]) for line in out.splitlines() if "max difference" in line]
    assert len(differences) == 2 and max(differences) < 1e-10, out


# ------------------------------------------------------------------ errors

def line_of(fn, text):
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, line in enumerate(lines) if text in line)


@pytest.mark.parametrize("fn, loop", [(cp.series, "for i in range(n)"), (cp.settle, "while s < 4.0")])
def test_unbounded_loop_in_reverse_mode_names_the_loop_and_remedies(fn, loop):
    with pytest.raises(sd.TransformError) as info:
        sd.grad(fn, backend="cuda")
    e = info.value
    assert (e.filename, e.lineno) == (cp.__file__, line_of(fn, loop)) and loop in str(e)
    assert "max_trips=N" in str(e) and "sd.jvp(f, backend='cuda')" in str(e)


def makes_array(x):
    a = np.zeros(3)
    a[0] = x
    return a[0] * x


def factorial_power(x, n):
    if n == 0:
        return 1.0
    return x * factorial_power(x, n - 1)


def test_device_code_errors():
    with pytest.raises(sd.TransformError, match="np.zeros in code for backend='cuda': device functions "
                                                "cannot create arrays") as info:
        sd.jit(makes_array, backend="cuda")
    assert info.value.lineno == line_of(makes_array, "np.zeros")
    with pytest.raises(sd.TransformError, match="code sourcediff generated for an inner transform"):
        sd.grad(sd.grad(cp.series), backend="cuda")      # the inner tape is a NumPy array
    with pytest.raises(sd.TransformError, match="recursive"):
        sd.jit(factorial_power, backend="cuda")
    with pytest.raises(ValueError, match="device functions of jit, grad, value_and_grad, jvp"):
        sd.jacfwd(cp.pair_energy, backend="cuda")
    with pytest.raises(TypeError, match="without primals"):
        sd.jvp(cp.pair_energy, (1.0, 2.0), (1.0, 0.0), backend="cuda")


def test_cuda_without_numba_cuda_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "numba_cuda", None)       # `import numba_cuda` now fails
    for make in (lambda: sd.grad(cp.pair_energy, backend="cuda"),
                 lambda: sd.vectorize(cp.pair_energy, target="cuda")):
        with pytest.raises(ImportError, match=r"backend='cuda' needs the numba-cuda package: "
                                              r"pip install 'numba-cuda\[cu13\]'"):
            make()
