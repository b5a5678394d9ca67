"""Forces from the gradient of a pair potential, computed in a CUDA kernel.

    python examples/gpu_forces.py                           # on an NVIDIA GPU
    NUMBA_ENABLE_CUDASIM=1 python examples/gpu_forces.py    # anywhere: numba.cuda's simulator

``sd.value_and_grad(..., backend="cuda")`` turns the Lennard-Jones energy of
one pair into a device function returning the energy and its gradient; the
kernel calls it like the potential itself, one thread per particle.  The
same derivative from the CPU backend checks the result.
"""
import numpy as np
from numba import cuda

import sourcediff as sd


def lennard_jones(dx, dy, dz, epsilon, sigma):
    """The energy of two particles at separation (dx, dy, dz), cut off at 2.5 sigma."""
    r2 = dx * dx + dy * dy + dz * dz
    if r2 > 6.25 * sigma * sigma:
        return 0.0
    s6 = (sigma * sigma / r2) ** 3
    return 4.0 * epsilon * (s6 * s6 - s6)


pair = sd.value_and_grad(lennard_jones, argnums=(0, 1, 2), backend="cuda")


@cuda.jit
def forces_kernel(positions, epsilon, sigma, forces, energies):
    i = cuda.grid(1)
    if i >= positions.shape[0]:
        return
    fx, fy, fz, energy = 0.0, 0.0, 0.0, 0.0
    for j in range(positions.shape[0]):
        if j != i:
            u, (gx, gy, gz) = pair(positions[i, 0] - positions[j, 0], positions[i, 1] - positions[j, 1],
                                   positions[i, 2] - positions[j, 2], epsilon, sigma)
            fx, fy, fz = fx - gx, fy - gy, fz - gz       # the force is minus the gradient
            energy += 0.5 * u                            # each pair's energy, half to each particle
    forces[i, 0], forces[i, 1], forces[i, 2] = fx, fy, fz
    energies[i] = energy


def forces_on_cpu(positions, epsilon, sigma):
    pair_cpu = sd.value_and_grad(lennard_jones, argnums=(0, 1, 2))
    forces, energies = np.zeros_like(positions), np.zeros(len(positions))
    for i in range(len(positions)):
        for j in range(len(positions)):
            if j != i:
                u, g = pair_cpu(*(positions[i] - positions[j]), epsilon, sigma)
                forces[i] -= g
                energies[i] += 0.5 * u
    return forces, energies


def jittered_lattice(side, spacing, seed=0):
    grid = np.stack(np.meshgrid(*[np.arange(side)] * 3, indexing="ij"), axis=-1).reshape(-1, 3)
    return spacing * grid + np.random.default_rng(seed).uniform(-0.1, 0.1, grid.shape)


def main():
    epsilon, sigma = 1.0, 1.0
    positions = jittered_lattice(4, 1.12 * sigma)          # 64 particles near the potential's minimum
    forces, energies = np.zeros_like(positions), np.zeros(len(positions))
    threads = 32
    forces_kernel[(len(positions) + threads - 1) // threads, threads](positions, epsilon, sigma, forces,
                                                                      energies)
    expected_forces, expected_energies = forces_on_cpu(positions, epsilon, sigma)
    print(f"{len(positions)} particles, total energy {energies.sum():.6f}, "
          f"net force {np.abs(forces.sum(axis=0)).max():.2e} (zero: Newton's third law)")
    print(f"forces: max difference from the CPU backend {np.abs(forces - expected_forces).max():.3e}")
    print(f"energies: max difference from the CPU backend {np.abs(energies - expected_energies).max():.3e}")


if __name__ == "__main__":
    main()
