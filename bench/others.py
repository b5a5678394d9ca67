"""The benchmark problems for JAX, PyTorch and autograd, for comparison with sourcediff.

Each problem is written once, vectorised the way those tools want it, against a small
namespace ``xp`` (``Framework``) that maps the few operations used to the tool's own;
the derivatives come from the tool's ``grad`` and ``jvp``.  ``implement(framework, name,
args)`` returns ``(primal, derivative, jvp)``, zero-argument callables that run the
problem on ``args`` (the arguments of sourcediff's objective) and wait for the result, or says
why it cannot.
Tools that are not installed are skipped by ``available()``.
"""
import importlib.util
import math

import numpy as np


class Framework:
    name = ""
    compiles_loops = False          # else its loops run in Python, one step at a time

    def loop(self, n, body, state):
        for i in range(n):
            state = body(i, state)
        return state

    def compile(self, f):
        return f

    def ready(self, value):
        return value


class Jax(Framework):
    name = "JAX"
    compiles_loops = True

    def __init__(self):
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        self.jax, self.np = jax, jnp
        for op in ("exp", "log", "tanh", "sin", "sign", "sum", "max", "min", "concatenate",
                   "arange", "linspace", "einsum"):
            setattr(self, op, getattr(jnp, op))

    def array(self, value):
        return self.np.asarray(value)

    def loop(self, n, body, state):
        return self.jax.lax.fori_loop(0, n, body, state)

    def compile(self, f):
        return self.jax.jit(f)

    def grad(self, f, argnums):
        return self.jax.grad(f, argnums)

    def jvp(self, f, primals, tangents):
        return self.jax.jvp(f, primals, tangents)[1]

    def ready(self, value):
        return self.jax.block_until_ready(value)


class Torch(Framework):
    name = "PyTorch"

    def __init__(self):
        import torch
        torch.set_num_threads(1)
        self.torch = torch
        for op in ("exp", "log", "tanh", "sin", "sign", "sum", "einsum"):
            setattr(self, op, getattr(torch, op))

    def array(self, value):
        return self.torch.as_tensor(value, dtype=self.torch.float64) if \
            np.asarray(value).dtype.kind == "f" else self.torch.as_tensor(value)

    def max(self, a, axis=None):
        return self.torch.amax(a) if axis is None else self.torch.amax(a, dim=axis)

    def min(self, a, axis=None):
        return self.torch.amin(a) if axis is None else self.torch.amin(a, dim=axis)

    def concatenate(self, parts):
        return self.torch.cat(parts)

    def arange(self, n):
        return self.torch.arange(n, dtype=self.torch.float64)

    def linspace(self, start, stop, n):
        return self.torch.linspace(start, stop, n, dtype=self.torch.float64)

    def grad(self, f, argnums):
        return self.torch.func.grad(f, argnums)

    def jvp(self, f, primals, tangents):
        return self.torch.func.jvp(f, primals, tangents)[1]


class Autograd(Framework):
    name = "autograd"

    def __init__(self):
        import autograd
        import autograd.numpy as anp
        self.autograd, self.np = autograd, anp
        for op in ("exp", "log", "tanh", "sin", "sign", "sum", "max", "min", "concatenate",
                   "arange", "linspace", "einsum"):
            setattr(self, op, getattr(anp, op))

    def array(self, value):
        return np.asarray(value)

    def grad(self, f, argnums):
        if isinstance(argnums, int):
            return self.autograd.grad(f, argnums)
        # autograd takes one argument: differentiate a tuple of them
        def packed(chosen, *args):
            full = list(args)
            for n, value in zip(argnums, chosen):
                full.insert(n, value)
            return f(*full)
        derivative = self.autograd.grad(packed)

        def unpack(*args):
            chosen = tuple(args[n] for n in argnums)
            return derivative(chosen, *(a for n, a in enumerate(args) if n not in argnums))
        return unpack

    def jvp(self, f, primals, tangents):
        return self.autograd.make_jvp(lambda packed: f(*packed))(tuple(primals))(tuple(tangents))[1]


def available():
    """The frameworks installed here; the names of those that are not."""
    found, missing = [], []
    for module, framework in (("jax", Jax), ("torch", Torch), ("autograd", Autograd)):
        if importlib.util.find_spec(module) is None:
            missing.append(framework.name)
        else:
            found.append(framework())
    return found, missing


# ----------------------------------------------------------------------------- problems

def lse(xp, x):
    top = xp.max(x)
    return xp.log(xp.sum(xp.exp(x - top))) + top


def llsq(xp, x, n):
    t = xp.linspace(-1.0, 1.0, n)
    powers = t[:, None] ** xp.arange(x.shape[0])[None, :]
    residual = xp.sign(t) - xp.sum(powers * x[None, :], 1)
    return 0.5 * xp.sum(residual * residual)


def ode(xp, x, s):
    def rhs(y):
        return xp.concatenate([x[:1], x[1:] * y[:-1]])

    def step(i, y):
        h = 2.0 / s
        k1 = rhs(y)
        k2 = rhs(y + h / 2 * k1)
        k3 = rhs(y + h / 2 * k2)
        k4 = rhs(y + h * k3)
        return y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return xp.loop(s, step, x * 0.0)


def kmeans_cost(xp, points, centroids):
    """|p - c|^2 as |p|^2 - 2 p.c + |c|^2: a matrix product, not an (n, k, d) array."""
    distances = xp.sum(points * points, 1)[:, None] - 2.0 * points @ centroids.T + \
        xp.sum(centroids * centroids, 1)[None, :]
    return xp.sum(xp.min(distances, 1))


def logsumexp_rows(xp, v):
    top = xp.max(v, 1)
    return xp.log(xp.sum(xp.exp(v - top[:, None]), 1)) + top


def gmm(xp, alpha, mu, q, l, x, gamma, m, log_gamma_term, below):
    """``below`` (d(d-1)/2, d*d) places l's entries under the diagonal, column by column."""
    n, d = x.shape
    k = alpha.shape[0]
    lower = (l @ below).reshape(k, d, d)
    centered = x[:, None, :] - mu[None, :, :]                                  # (n, k, d)
    rotated = xp.exp(q)[None] * centered + xp.einsum("kij,nkj->nki", lower, centered)
    main = alpha[None] + xp.sum(q, 1)[None] - 0.5 * xp.sum(rotated * rotated, 2)
    likelihood = (xp.sum(logsumexp_rows(xp, main)) - n * logsumexp_rows(xp, alpha[None])[0]
                  - 0.5 * n * d * math.log(2 * math.pi))
    dof = d + m + 1
    frobenius = xp.sum(xp.exp(2 * q)) + xp.sum(l * l)
    prior = (k * (dof * d * (math.log(gamma) - 0.5 * math.log(2.0)) - log_gamma_term)
             - 0.5 * gamma * gamma * frobenius + m * xp.sum(q))
    return likelihood + prior


def lstm(xp, main_params, extra_params, state, sequence):
    def sigmoid(v):
        return 1 / (1 + xp.exp(-v))
    layers, b = main_params.shape[0] // 2, sequence.shape[1]
    hidden = [state[2 * i] for i in range(layers)]
    cell = [state[2 * i + 1] for i in range(layers)]
    total = 0.0
    for t in range(sequence.shape[0] - 1):
        value = sequence[t] * extra_params[0]
        for i in range(layers):
            w, bias = main_params[2 * i], main_params[2 * i + 1]
            forget = sigmoid(value * w[:b] + bias[:b])
            ingate = sigmoid(hidden[i] * w[b:2 * b] + bias[b:2 * b])
            outgate = sigmoid(value * w[2 * b:3 * b] + bias[2 * b:3 * b])
            change = xp.tanh(hidden[i] * w[3 * b:] + bias[3 * b:])
            cell[i] = cell[i] * forget + ingate * change
            hidden[i] = outgate * xp.tanh(cell[i])
            value = hidden[i]
        prediction = value * extra_params[1] + extra_params[2]
        total = total + xp.sum(sequence[t + 1] * (prediction - xp.log(xp.sum(xp.exp(prediction)) + 2)))
    return -total / ((sequence.shape[0] - 1) * b)


def recurrence(xp, x, a, n):
    return xp.loop(n, lambda i, s: s * a + xp.sin(x * s), x * 0.0 + 0.5)


def horner(xp, x, c):
    return xp.loop(c.shape[0], lambda i, s: s * x + c[i], x * 0.0)


def rk4(xp, k, w, y0, n):
    dt = 10.0 / n

    def step(i, y):
        t = i * dt
        k1 = -k * y + xp.sin(w * t)
        k2 = -k * (y + 0.5 * dt * k1) + xp.sin(w * (t + 0.5 * dt))
        k3 = -k * (y + 0.5 * dt * k2) + xp.sin(w * (t + 0.5 * dt))
        k4 = -k * (y + dt * k3) + xp.sin(w * (t + dt))
        return y + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return xp.loop(n, step, y0)


def below_diagonal(d):
    """The (d(d-1)/2, d*d) 0/1 matrix that puts l's entries below the diagonal, by columns."""
    places = np.zeros((d * (d - 1) // 2, d * d))
    entry = 0
    for col in range(d):
        for row in range(col + 1, d):
            places[entry, row * d + col] = 1.0
            entry += 1
    return places


# name -> (objective(xp, *args), differentiated argument numbers, data argument numbers
#          (closed over, not differentiated), derivative ("grad", "last": the gradient of the
#          last output, "kmeans": the Newton direction), frameworks it is not written for)
PROBLEMS = {
    "lse": (lse, 0, (), "grad", ()),
    "llsq": (llsq, 0, (1,), "grad", ()),
    "ode": (ode, 0, (1,), "last", ()),
    "kmeans": (kmeans_cost, 1, (0,), "kmeans", ()),
    "gmm": (gmm, (0, 1, 2, 3), (4, 5, 6, 7, 8), "grad", ()),
    "lstm": (lstm, (0, 1), (2, 3), "grad", ("JAX",)),     # JAX would unroll the Python loop
    "recurrence": (recurrence, (0, 1), (2,), "grad", ()),
    "horner": (horner, 0, (1,), "grad", ()),
    "rk4": (rk4, (0, 1, 2), (3,), "grad", ()),
}


SCALAR_LOOPS = {"recurrence": 2, "horner": 1, "rk4": 3}     # the step count, or an array that long
PYTHON_LOOP_LIMIT = 2000


def implement(fw, name, args):
    """(primal, derivative, jvp) for ``fw`` on ``args``, or why not (a string)."""
    if name not in PROBLEMS or fw.name in PROBLEMS[name][4]:
        return f"no version of {name} for {fw.name} here"
    if name in SCALAR_LOOPS and not fw.compiles_loops:
        count = args[SCALAR_LOOPS[name]]
        steps = count if isinstance(count, int) else np.size(count)
        if steps > PYTHON_LOOP_LIMIT:
            return f"{steps} steps of a Python loop: skipped above {PYTHON_LOOP_LIMIT} (see --quick)"
    objective, argnums, data, kind, _ = PROBLEMS[name]
    if name == "gmm":
        args = args + (below_diagonal(args[4].shape[1]),)
    fixed = {i: fw.array(args[i]) if isinstance(args[i], np.ndarray) else args[i] for i in data}
    moving = [i for i in range(len(args)) if i not in data]
    inputs = tuple(fw.array(args[i]) for i in moving)          # floats become 0-d arrays

    def f(*values):
        full = dict(fixed)
        full.update(zip(moving, values))
        return objective(fw, *(full[i] for i in range(len(args))))
    nums = tuple(moving.index(i) for i in ((argnums,) if isinstance(argnums, int) else argnums))
    position = nums[0] if isinstance(argnums, int) else nums
    primal = fw.compile(f)
    if kind == "last":
        derivative = fw.compile(fw.grad(lambda *v: f(*v)[-1], position))
    elif kind == "kmeans":
        gradient = fw.grad(f, position)

        def newton_direction(*values):
            return gradient(*values) / fw.jvp(gradient, values, tuple(v * 0.0 + 1.0 for v in values))
        derivative = fw.compile(newton_direction)
    else:
        derivative = fw.compile(fw.grad(f, position))
    rng = np.random.default_rng(0)
    tangents = tuple(fw.array(rng.normal(size=np.shape(args[i]))) for i in moving)
    jvp = fw.compile(lambda *v: fw.jvp(f, v, tangents))
    wait = fw.ready
    return (lambda: wait(primal(*inputs)), lambda: wait(derivative(*inputs)),
            lambda: wait(jvp(*inputs)))
