"""Functions over pytrees for tests/test_pytrees.py."""
import math
from collections import namedtuple
from functools import partial

import numpy as np

import sourcediff as sd

Point = namedtuple("Point", ["x", "y"])
Params = namedtuple("Params", ["w", "b"])
WEIGHTS = (0.5, 2.0)


def norm2(p):
    return p.x * p.x + p.y * p.y


def loss(params, data):
    w, b = params["w"], params["b"]
    s = 0.0
    for i in range(data["n"]):
        r = w * math.sin(i + data["y"]) + b - data["y"]
        s += r * r
    return s


def rotate(p, angle):
    c, s = math.cos(angle), math.sin(angle)
    return Point(c * p.x - s * p.y, s * p.x + c * p.y)


def uses_rotate(p, angle):
    q = rotate(p, angle)
    return norm2(q) * q.x


def carried_state(x, n):
    state = (x, 0.0)
    for i in range(n):
        state = (state[0] * 0.5, state[1] + state[0])
    return state[1]


def build_dict(x, y):
    d = {}
    d["b"] = (x, y)
    d["a"] = x * y
    d["a"] += 1.0
    return d


def nested(t):
    (a, b), c = t
    return a * b * c["k"] + t[0][-1]


def with_none(p):
    return p["v"] * p["n"]


def value_and_aux(p):
    v = p.x * p.y
    return v, {"square": v * v, "count": 3, "nothing": None}


def model(params, x):
    layer = params.w * x + params.b
    return {"out": math.tanh(layer), "pre": layer}


def weighted(x):
    return WEIGHTS[0] * x + WEIGHTS[1] * x * x


def optional(x, scale=None):
    return 2.0 * x


def uses_optional(x):
    return optional(x) + optional(x, scale=None)


def frozen(p):
    q = sd.stop_gradient(p)
    return q.x * p.y


def listy(values):
    return values[0] * values[1] + values[-1]


def recursive_with_dict(n, x):
    d = {"x": x}
    if n == 0:
        return 1.0
    return d["x"] * recursive_with_dict(n - 1, x)


def two_structures(p, x):
    return norm_of_pair(p) + norm_of_pair((x, 2.0 * x))


def norm_of_pair(t):
    return t[0] * t[0] + t[1] * t[1]


# ---------------------------------------------------------------- custom rules

@sd.custom_vjp
def scale(p, c):
    return Point(c["k"] * p.x, c["k"] * p.y)


def scale_fwd(p, c):
    return scale(p, c), {"k": c["k"], "unused": None, "two": 2}


def scale_bwd(res, g):
    return (Point(res["k"] * g.x, res["k"] * g.y), None)     # no cotangent for c


scale.defvjp(scale_fwd, scale_bwd)


def uses_scale(p, c):
    q = scale(p, c)
    return q.x * q.y


@sd.custom_vjp
def half_known(p):
    return p["x"] * p["y"]


def half_known_fwd(p):
    return half_known(p), p


def half_known_bwd(p, g):
    return ({"x": g * p["y"], "y": None},)      # None for a leaf: zero


half_known.defvjp(half_known_fwd, half_known_bwd)


@partial(sd.custom_jvp, nondiff_argnums=(0,))
def apply_both(f, p):
    return f(p.x) + f(p.y)


@apply_both.defjvp
def apply_both_jvp(f, primals, tangents):
    p, = primals
    t, = tangents
    return apply_both(f, p), 2.0 * (t.x + t.y)


def square(v):
    return v * v


def uses_apply_both(p):
    return apply_both(square, p)


@sd.custom_jvp
def polar(p):
    return Point(p["r"] * math.cos(p["theta"]), p["r"] * math.sin(p["theta"]))


@polar.defjvp
def polar_jvp(primals, tangents):
    p, = primals
    t, = tangents
    c, s = math.cos(p["theta"]), math.sin(p["theta"])
    return polar(p), Point(c * t["r"] - p["r"] * s * t["theta"], s * t["r"] + p["r"] * c * t["theta"])


# ---------------------------------------------------------------- errors

@sd.custom_vjp
def wrong_bwd(p):
    return p.x * p.y


def wrong_bwd_fwd(p):
    return wrong_bwd(p), p


def wrong_bwd_bwd(p, g):
    return ((g * p.y, g * p.x),)        # a tuple where a Point is expected


wrong_bwd.defvjp(wrong_bwd_fwd, wrong_bwd_bwd)


@sd.custom_jvp
def wrong_tangent(p):
    return p.x, p.y


@wrong_tangent.defjvp
def wrong_tangent_jvp(primals, tangents):
    p, = primals
    t, = tangents
    return (p.x, p.y), t.x


def dynamic_key(d, k):
    return d[k]


def attribute_of_dict(d):
    return d.a


def changing_structure(x, flag):
    if flag:
        v = (x, x)
    else:
        v = (x, x, x)
    return v[0]


def pair(x):
    return x, 2.0 * x


def call_in_loop_test(x):
    while pair(x)[0] < 10.0:
        x = x * 2.0
    return x


def arithmetic_on_points(p, q):
    return (p + q)[0]


def counts(p):
    return {"value": p["x"] * p["n"], "n": p["n"]}


def edits_list(values):
    values[0] = values[0] * values[1]
    return values[0] + len(values)


def changes_tuple(t):
    t[0] = 1.0
    return t[0]


def linear(params, x):
    y = np.sum(params.w * x) + params.b
    return y * y


def stacked(p):
    v = np.array([p.x, p.y, p.x * p.y])
    return np.sum(v * v)
