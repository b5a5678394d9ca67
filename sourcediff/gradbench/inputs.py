"""Inputs for the GradBench evals, made the way the evals make them, at sizes we choose.

Each function returns the ``input`` of an ``evaluate`` message (without
``min_runs``/``min_seconds``) as JSON-ready lists and numbers.  ``ba``, ``ht`` and
``lstm`` read ADBench's data files in GradBench; here their inputs are random
with the same structure.  ``examples(name)`` gives the small inputs the tool
compiles on in ``define``, which the tests use too.
"""
import math

import numpy as np

SEED = 31337


def hello(x=1.0):
    return x


def lse(n, seed=SEED):
    return {"x": np.random.RandomState(seed).rand(n).tolist()}


def llsq(n, m, seed=SEED):
    return {"x": np.random.RandomState(seed).rand(m).tolist(), "n": n}


def ode(n, s, seed=SEED):
    return {"x": np.random.RandomState(seed).rand(n).tolist(), "s": s}


def det(ell, seed=SEED):
    return {"A": np.random.RandomState(seed).rand(ell * ell).tolist(), "ell": ell}


def kmeans(n, k, d, seed=SEED):
    points = np.random.RandomState(seed).rand(n, d).tolist()
    return {"points": points, "centroids": points[-k:]}      # every cluster has a point


def gmm(d, k, n, m=0, gamma=1.0, seed=SEED):
    rng = np.random.default_rng(seed)
    return {"d": d, "k": k, "n": n,
            "x": rng.normal(size=(n, d)).tolist(), "m": m, "gamma": gamma,
            "alpha": rng.normal(size=k).tolist(),
            "mu": rng.uniform(size=(k, d)).tolist(),
            "q": rng.normal(size=(k, d)).tolist(),
            "l": rng.normal(size=(k, d * (d - 1) // 2)).tolist()}


TEXT = ("Differentiation by source transformation reads a program and writes another "
        "program that computes its derivatives, which a compiler then turns into fast code. ")


def lstm(layers, chars, seed=SEED):
    text = (TEXT * (chars // len(TEXT) + 1))[:chars]
    bits = math.ceil(math.log2(max(ord(c) for c in text)))
    rng = np.random.RandomState(seed)
    return {"main_params": rng.rand(2 * layers, 4 * bits).tolist(),
            "extra_params": rng.rand(3, bits).tolist(),
            "state": rng.rand(2 * layers, bits).tolist(),
            "sequence": [[float(b) for b in format(ord(c), f"0{bits}b")] for c in text]}


def ba(n, m, p, seed=SEED):
    """One camera, point, weight and feature, which the tool repeats (n, m and p times)."""
    rng = np.random.default_rng(seed)
    cam = np.concatenate([rng.uniform(-1, 1, 3), rng.uniform(20, 50, 3), [rng.uniform(300, 500)],
                          rng.uniform(-10, 10, 2), rng.uniform(0, 0.1, 2)])
    return {"n": n, "m": m, "p": p, "cam": cam.tolist(), "x": rng.uniform(0, 10, 3).tolist(),
            "w": float(rng.uniform(0, 1)), "feat": rng.uniform(0, 1000, 2).tolist()}


# The hand's skeleton in ADBench's model: each bone's parent (-1 for the wrist).
HAND_PARENTS = [-1, 0, 1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 11, 0, 13, 14, 15, 0, 17, 18, 19, 0]


def _rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    return q * np.sign(np.diag(r))


def ht(vertices, points, complicated, seed=SEED):
    """A random hand model with ADBench's 22-bone skeleton, and ``points`` observations."""
    rng = np.random.default_rng(seed)
    bones = len(HAND_PARENTS)
    relatives = np.zeros((bones, 4, 4))
    absolutes = np.zeros((bones, 4, 4))
    for b, parent in enumerate(HAND_PARENTS):
        relatives[b, :3, :3] = _rotation(rng)
        relatives[b, :3, 3] = rng.normal(scale=0.05, size=3)
        relatives[b, 3, 3] = 1.0
        absolutes[b] = relatives[b] if parent == -1 else absolutes[parent] @ relatives[b]
    positions = np.ones((vertices, 4))
    positions[:, :3] = rng.normal(scale=0.1, size=(vertices, 3))
    weights = rng.uniform(size=(vertices, bones)) * (rng.uniform(size=(vertices, bones)) < 0.2)
    weights[:, 0] += 0.1
    weights /= weights.sum(axis=1, keepdims=True)
    triangles = rng.integers(0, vertices, size=(2 * vertices, 3))
    model = {"bone_count": bones, "bone_names": [f"bone{b}" for b in range(bones)],
             "parents": HAND_PARENTS, "base_relatives": relatives.tolist(),
             "inverse_base_absolutes": np.linalg.inv(absolutes).tolist(),
             "base_positions": positions.tolist(), "weights": weights.tolist(),
             "triangles": triangles.tolist(), "is_mirrored": False}
    targets = len(triangles) if complicated else vertices
    data = {"model": model, "correspondences": rng.integers(0, targets, size=points).tolist(),
            "points": rng.normal(scale=0.1, size=(points, 3)).tolist()}
    us = rng.uniform(0, 0.5, size=(points, 2)).tolist() if complicated else []
    return {"theta": rng.normal(scale=0.3, size=26).tolist(), "data": data, "us": us}


def particle(w=0.0):
    return {"w": w}


def saddle(start=(1.0, 1.0)):
    return {"start": list(start)}


def examples(name):
    """The small inputs of eval ``name`` on which the tool compiles its functions."""
    return {
        "hello": lambda: [hello()],
        "lse": lambda: [lse(8)],
        "llsq": lambda: [llsq(8, 4)],
        "ode": lambda: [ode(6, 3)],
        "det": lambda: [det(4)],
        "kmeans": lambda: [kmeans(12, 3, 2)],
        "gmm": lambda: [gmm(3, 2, 5)],
        "lstm": lambda: [lstm(2, 5)],
        "ba": lambda: [ba(3, 4, 6)],
        "ht": lambda: [ht(12, 5, False), ht(12, 5, True)],
        "particle": lambda: [particle()],
        "saddle": lambda: [saddle()],
    }[name]()
