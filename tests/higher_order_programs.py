"""Programs for test_higher_order.py: loops with tapes differentiated to third order,
transforms applied inside differentiated code, and function values (lambdas, closures,
functools.partial, module functions) passed to differentiated code."""
import functools
import math

import numpy as np

import sourcediff as sd


# ------------------------------------------------------------ higher order of loop code
def power_loop(x, n):
    """x ** n by a loop whose product is overwritten and read back: taped in reverse."""
    p = 1.0
    for i in range(n):
        p = p * x
    return p


def sine_while(x):
    """A while loop whose trip count is found at run time (the tape grows)."""
    s = 0.0
    k = 0
    while k < 5:
        s = math.sin(s + x) + 0.1 * s * s
        k += 1
    return s


def rosenbrock(x):
    total = 0.0
    for i in range(x.shape[0] - 1):
        total += 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
    return total


def rosenbrock_hessian(x):
    n = x.shape[0]
    h = np.zeros((n, n))
    for i in range(n - 1):
        h[i, i] += 1200.0 * x[i] ** 2 - 400.0 * x[i + 1] + 2.0
        h[i + 1, i + 1] += 200.0
        h[i, i + 1] -= 400.0 * x[i]
        h[i + 1, i] -= 400.0 * x[i]
    return h


def smoothed_norm(w, x):
    """An array program: elementwise functions, a reduction and an in-place write."""
    y = np.tanh(w * x)
    y[0] = y[0] * w[1]
    return np.sum(y * y) + math.log(1.0 + np.sum(w * w))


# ------------------------------------------------------------ transforms in code
def inner_objective(y, x):
    return (y - x) ** 2 + 0.1 * y ** 4


def inner_steps(x):
    """An inner optimisation (five gradient steps on y), as in GradBench's saddle and particle."""
    y = 0.0
    for i in range(5):
        y = y - 0.1 * sd.grad(inner_objective)(y, x)
    return y * y + x


def inner_steps_by_hand(x):
    y = 0.0
    for i in range(5):
        y = y - 0.1 * (2.0 * (y - x) + 0.4 * y ** 3)
    return y * y + x


def closure_steps(x):
    """The same inner optimisation, the objective a lambda closing over x."""
    y = 0.0
    for i in range(5):
        y = y - 0.1 * sd.grad(lambda z: (z - x) ** 2 + 0.1 * z ** 4)(y)
    return y * y + x


def wiggle(a, b):
    return math.sin(a) * b * b


def nested_transforms(x):
    """value_and_grad, jvp and vjp in code, their results used."""
    value, (ga, gb) = sd.value_and_grad(wiggle, argnums=(0, 1))(x, 2.0 * x)
    out, tangent = sd.jvp(wiggle, (x, x), (1.0, 0.5))
    primal, pullback = sd.vjp(wiggle, x, 3.0)
    ca, cb = pullback(2.0)
    return value * ga + gb + out * tangent + primal * ca + cb


def nested_transforms_by_hand(x):
    b = 2.0 * x
    value, ga, gb = math.sin(x) * b * b, math.cos(x) * b * b, 2.0 * math.sin(x) * b
    out = math.sin(x) * x * x
    tangent = math.cos(x) * x * x + 0.5 * 2.0 * math.sin(x) * x
    primal = math.sin(x) * 9.0
    ca, cb = 2.0 * math.cos(x) * 9.0, 2.0 * 2.0 * math.sin(x) * 3.0
    return value * ga + gb + out * tangent + primal * ca + cb


second_of_wiggle = sd.grad(sd.grad(wiggle))


def calls_a_transformed_global(x):
    """A transformed function defined outside, called inside: grad(grad) of it, and a Hessian."""
    h = sd.hessian(wiggle, argnums=(0, 1))(x, 1.5)
    return second_of_wiggle(x, 1.5) + h[0][1] * x


def calls_a_transformed_global_by_hand(x):
    return -math.sin(x) * 2.25 + 2.0 * math.cos(x) * 1.5 * x


# ------------------------------------------------------------ function values
def apply_twice(f, x):
    return f(f(x))


def compose(f, g, x):
    return f(g(x)) + g(f(x))


def cube(x):
    return x * x * x


def scaled(scale, x):
    return scale * math.sin(x)


half_scaled = functools.partial(scaled, 0.5)


def uses_function_values(x, c):
    """Module functions, a rule (math.exp), a global partial, a partial made here and a lambda
    closing over the differentiated ``c``: each call of apply_twice specialised per function."""
    a = apply_twice(cube, x)
    b = apply_twice(math.exp, 0.1 * x)
    d = compose(half_scaled, functools.partial(scaled, c), x)
    e = apply_twice(lambda y: c * y + x, x)
    return a + b + d + e


def uses_function_values_by_hand(x, c):
    a = (x ** 3) ** 3
    b = math.exp(math.exp(0.1 * x))
    d = 0.5 * math.sin(c * math.sin(x)) + c * math.sin(0.5 * math.sin(x))
    e = c * (c * x + x) + x
    return a + b + d + e


def sum_map(f, v):
    total = 0.0
    for i in range(v.shape[0]):
        total += f(v[i])
    return total


def closes_over_an_array(w, v):
    """A lambda closing over the array ``w``: its gradient reaches w."""
    return sum_map(lambda t: np.sum(w * t) * t, v)


def closes_over_an_array_by_hand(w, v):
    return np.sum(w) * np.sum(v * v)


# ------------------------------------------------------------ custom rules at every order
@sd.custom_vjp
def cube_rule(x):
    return x * x * x


def cube_rule_fwd(x):
    return cube_rule(x), x


def cube_rule_bwd(x, g):
    return (3.0 * x * x * g,)


cube_rule.defvjp(cube_rule_fwd, cube_rule_bwd)


def through_cube_rule(x):
    return cube_rule(math.sin(x))


# ------------------------------------------------------------ errors
def lambda_with_default(x):
    return apply_twice(lambda y, k=2.0: k * y, x)


def function_as_a_number(x):
    f = cube
    return f + x


def transform_with_backend(x):
    return sd.grad(cube, backend="numba")(x)


# ------------------------------------------------------------ known engine bug
def discards_of_two_kinds(x, v):
    """``_`` receives a float, then an array: each discard gets its own name."""
    _, gv = sd.value_and_grad(lambda a, b: np.sum(a * b), argnums=1)(x, v)
    _, gx = sd.value_and_grad(lambda a, b: np.sum(a * b))(x, v)
    _ = v * x
    return np.sum(gv) * x + gx


# ------------------------------------------------------------ array Jacobians in code
def warp(A, s):
    """An array output (3,) of a 2-D array and a float."""
    v = np.tanh(A[0] * s) + A[1] * A[1]
    return v


def jacobians_in_code(A, s):
    """jacfwd and jacrev of array code taken inside the code (as GradBench's ba does)."""
    forward_A, forward_s = sd.jacfwd(warp, argnums=(0, 1))(A, s)
    reverse_A, reverse_s = sd.jacrev(warp, argnums=(0, 1))(A, s)
    return np.sum(forward_A * reverse_A) + np.sum(forward_s * np.cos(reverse_s))


def jacobians_in_code_by_hand(A, s):
    """The same from the closed form: d v_k / d A[0, k] = s (1 - t_k^2), d v_k / d A[1, k]
    = 2 A[1, k], d v_k / d s = A[0, k] (1 - t_k^2), t = tanh(A[0] s)."""
    t = np.tanh(A[0] * s)
    d0, d1, ds = s * (1 - t * t), 2 * A[1], A[0] * (1 - t * t)
    return np.sum(d0 * d0) + np.sum(d1 * d1) + np.sum(ds * np.cos(ds))


def rows_product(A):
    """Reads rows of its argument: the reverse code adds into views of ``A_bar`` in place."""
    return np.sum(np.tanh(A[0]) * A[1])
