"""A parameter sweep of gradients over a dask.distributed cluster of worker processes.

Each task computes the value and gradient of an RK4 integration of
dy/dt = -k * y + a * sin(t) for one decay rate k.  A transformed function
pickles by reference to the user's function, so the tasks ship small; each
worker process builds it again and loads the compiled code from the disk
cache (shared by the processes of one user on one machine), so it is
compiled once, here, before the sweep.

    pip install -e '.[dask]'
    python examples/dask_sweep.py
"""
import os
import sys

import sourcediff as sd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


from ode_sensitivity import integrate  # noqa: E402  (the example beside this one)


def main(points=8):
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        print("this example needs dask.distributed, which is not installed: "
              "pip install -e '.[dask]' (or pip install 'dask[distributed]')")
        return 0

    value_and_grad = sd.value_and_grad(integrate, argnums=(1, 2))   # d y(T) / d (k, a)
    ks = [0.2 + 0.1 * i for i in range(points)]
    y0, a, steps = 1.0, 2.0, 400
    local = value_and_grad(y0, ks[0], a, steps)        # compiles once, into the disk cache

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        futures = client.map(value_and_grad, [y0] * points, ks, [a] * points, [steps] * points)
        results = client.gather(futures)

    print(f"{'k':>5} {'y(T)':>14} {'dy/dk':>14} {'dy/da':>14}")
    for k, (value, (dk, da)) in zip(ks, results):
        print(f"{k:5.2f} {value:14.10f} {dk:14.10f} {da:14.10f}")
    assert results[0] == local, (results[0], local)
    h = 1e-6
    fd = (integrate(y0, ks[-1] + h, a, steps) - integrate(y0, ks[-1] - h, a, steps)) / (2 * h)
    print(f"check: dy/dk at k={ks[-1]:.2f} by central differences {fd:.10f}")
    assert abs(fd - results[-1][1][0]) < 1e-6
    print(f"{points} gradients from 2 worker processes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
