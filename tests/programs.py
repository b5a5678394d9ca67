"""A corpus of plain Python numeric programs for sourcediff to differentiate.

Every program is a module-level function (sourcediff reads their source).
``CASES`` lists, for each scalar-valued program, the argument tuples to
test at and which positions are floats (those are differentiated); the
points are chosen away from kinks and discontinuities so that central
finite differences are a valid reference.  ``AUX_CASES`` hold programs
returning ``(value, aux)``; ``VECTOR_CASES`` programs returning a tuple of
floats (for Jacobians).

A case may carry ``grad_ref``, an analytic gradient used instead of finite
differences where finite differences do not apply (``stop_gradient``).
"""
import math
from dataclasses import dataclass

import numpy as np

import sourcediff as sd


# ====================================================================== recurrences

def logistic_relaxation(r, x0):
    """300 steps of the logistic map in its stable regime (converges to 1 - 1/r)."""
    x = x0
    for _ in range(300):
        x = r * x * (1.0 - x)
    return x


def damped_recurrence(a, b, n):
    """A nonlinear first-order recurrence with an integer step count."""
    s = 0.5
    for i in range(n):
        s = a * s + b * math.sin(s + 0.01 * i)
    return s


def compound_growth(rate, principal):
    """1000 steps of compounding with a slowly varying rate."""
    v = principal
    for k in range(1000):
        v = v * (1.0 + rate / 1000.0 * (1.0 + 0.1 * math.cos(0.01 * k)))
    return v


def second_order_recurrence(x, y):
    """Tuple-unpacking recurrence (a damped Fibonacci), 200 steps."""
    a, b = x, y
    for _ in range(200):
        a, b = b, 0.6 * a + 0.3 * b * math.cos(x) + 0.05 * math.sin(b)
    return a + 2.0 * b


def euler_pendulum(theta0, omega0, damping):
    """Explicit Euler for a damped pendulum, 800 steps."""
    theta, omega = theta0, omega0
    dt = 0.01
    for _ in range(800):
        acc = -9.81 * math.sin(theta) - damping * omega
        theta = theta + dt * omega
        omega = omega + dt * acc
    return theta * theta + 0.1 * omega


# ====================================================================== nested loops

def nested_grid(x, y):
    s = 0.0
    for i in range(12):
        for j in range(9):
            s += math.sin(x * i + y * j) / (1.0 + i + j)
    return s


def triangular(x, n):
    """Triangular double loop ``for j in range(i)``."""
    s = 0.0
    for i in range(n):
        for j in range(i):
            s += math.cos(x * j - 0.1 * i) * x / (i + 1.0)
    return s


def triple_nested(x, y):
    s = 1.0
    for i in range(4):
        for j in range(i, 5):
            for k in range(j):
                s = s + math.tanh(x * k - y * i + 0.1 * j) * 0.1
    return s * y


# ====================================================================== branches

def piecewise(x, y):
    if x > y:
        z = x * x - y
    elif x > 0.0:
        z = math.exp(x) * y
    else:
        z = -x * y * y
    return z + 0.5 * x


def branch_in_loop(x):
    """Branches on an active value inside a loop (a bouncing state)."""
    s = 0.3
    for i in range(60):
        if s > 1.0:
            s = s * 0.5 + 0.01 * x
        else:
            s = s + x * 0.1 + 0.02 * math.sin(i + s)
    return s


def cond_expr_logic(x, y):
    """Conditional expressions and and/or/not on comparisons of active values."""
    z = x * y if x > y else y * y - x
    w = math.sin(x) if (x > 0.0 and y > 0.0) else math.cos(y)
    v = 2.0 * x if (x < -1.0 or not y < 2.0) else x / 3.0
    return z + w + v


# ====================================================================== while / break / continue

def while_break(x):
    """Accumulate until a threshold, then leave with ``break``."""
    s = 0.0
    k = 0
    while True:
        s += x * (1.0 + 0.1 * k)
        k += 1
        if s > 10.0:
            break
    return s * s


def for_continue(x, n):
    s = 0.0
    for i in range(n):
        if i % 3 == 0:
            continue
        s += math.sin(x * i) * 0.5
    return s


def while_continue(x):
    s = 1.0
    i = 0
    while i < 30:
        i += 1
        if i % 4 == 1:
            continue
        s = s + math.cos(s * x) * 0.1
    return s


def for_break_active(x, y):
    """``break`` whose condition is on an active value."""
    s = y
    for i in range(100):
        s = s * 1.05 + x
        if s > 50.0:
            break
    return s + x * y


def while_test_and_break(x):
    """A while loop left through its test or through a ``break``: the backward sweep must
    replay every iteration that ran, whichever way the loop ended."""
    s = x
    j = 0
    while j < 3:
        j += 1
        s = s * math.cos(s)
        if s > 10.0:
            break
    return s


def two_returns_in_loop(x):
    """A return, then a second one later in the same loop body (GradBench's ``descend``,
    seen by saddle's reverse-outer variants)."""
    y = x
    k = 0
    while True:
        if y > 10.0:
            return y
        if k == 2:
            k = 0
        else:
            y = y * 1.5
            if y > 8.0:
                return y * y
            k = k + 1


def self_assignment(x):
    """``v = v`` does nothing, derivative included."""
    v = x * 2.0
    for _ in range(2):
        v = v
        v = v * x
    return v


def _scaled(a, b):
    a = a * b
    return a


def constant_argument_reassigned(x):
    """A helper parameter given a constant, then assigned an active value (forward mode
    gives it a zero tangent to start from)."""
    return _scaled(2.0, x) + _scaled(x, 0.5)


def negative_constant_power(x):
    """A constant power base that folds to a negative number prints in parentheses."""
    return x * (-0.75) ** 2 + (0.5 - 1.5) ** 3 * x * x


def nested_while_for(x):
    total = 0.0
    for i in range(5):
        v = x + i
        while v < 20.0:
            v = v * 1.5 + 0.1
        total += math.sqrt(v)
    return total


# ====================================================================== helpers and recursion

def _poly(x):
    return 1.0 + x * (0.5 + x * (0.25 - 0.1 * x))


def _mix(x, y):
    return math.atan2(x, y) + _poly(y) * x


def helper_calls(x, y):
    return _mix(x, y) * _poly(x) + _mix(y, x)


def _polar(x, y):
    r = math.hypot(x, y)
    t = math.atan2(y, x)
    return r, t


def helper_tuple(x, y):
    """A helper returning a tuple, unpacked by the caller."""
    r, t = _polar(x, y)
    return r * math.cos(2.0 * t) + t * t


def _smooth_step(v, k):
    s = 0.0
    for i in range(k):
        s = s + math.exp(-v * i) * 0.5
    return s


def helper_loop_chain(x, n):
    """A helper with a loop, called in a loop."""
    total = 0.0
    for i in range(n):
        total += _smooth_step(x + 0.1 * i, 5) * x
    return total


def _rpow(x, n):
    if n == 0:
        return 1.0
    return x * _rpow(x, n - 1)


def recursive_power(x, n):
    return _rpow(x, n) + _rpow(x + 1.0, 3)


def _tree(x, n):
    if n < 2:
        return x
    return _tree(x * 0.9, n - 1) + math.sin(_tree(x, n - 2))


def recursive_tree(x, n):
    """Doubly recursive helper (Fibonacci-shaped call tree)."""
    return _tree(x, n)


def _even_terms(x, n):
    if n == 0:
        return 0.0
    return math.sin(x * n) + _odd_terms(x, n - 1)


def _odd_terms(x, n):
    if n == 0:
        return 1.0
    return math.cos(x + n) * _even_terms(x, n - 1)


def mutual_recursion(x, n):
    """Two functions calling each other."""
    return _even_terms(x, n) + x * _odd_terms(x, n - 1)


def recursion_in_a_loop(x, n):
    """A recursion called from a loop of its caller, deeper on some iterations."""
    total = 0.0
    for k in range(n):
        total += _tree(x + 0.1 * k, k % 4 + 2)
    return total


def _then_loop(x, n):
    if n == 0:
        return x
    y = _then_loop(x * 0.8, n - 1)
    s = 0.0
    for i in range(3):
        s = s + math.sin(y + i) * x
    return s


def recursion_then_loop(x, n):
    """A loop that overwrites its sum after the recursive call (the forward sweep ends in a loop)."""
    return _then_loop(x, n)


def _halving(x, n):
    if n == 0:
        return x
    k = 0
    while x > 0.5:
        x = x * 0.7
        k += 1
        if k > 20:
            break
    return math.sin(x) * _halving(x + 1.0, n - 1) + k * x


def recursion_with_while(x, n):
    """A parameter rebound in a while loop with a break, in the general case."""
    return _halving(x, n)


def _weighted_picks(x, w, idx, n):
    if n == 0:
        return 0.0
    big = w[idx[n - 1]] > 0.3
    t = w[idx[n - 1]] * x
    if big:
        t = t * t
    return t + 0.9 * _weighted_picks(x, w, idx, n - 1)


def recursion_over_indices(x, w, idx):
    """Reads a float array through an index array, with a bool local."""
    return _weighted_picks(x, w, idx, idx.shape[0])


def _early(x, n):
    if n == 0:
        return x
    s = 0.0
    for i in range(5):
        s += math.cos(x * i)
        if s > 2.5:
            return s * _early(x * 0.5, n - 1)
    return s + _early(x + 0.1, n - 1)


def recursion_early_return(x, n):
    """A return from inside a loop, each way into the recursion."""
    return _early(x, n)


def _pair(x, n):
    if n == 0:
        return x, 1.0
    a, b = _pair(x * 0.8, n - 1)
    return a * b + math.sin(x), b * 0.5 + a


def recursion_pair_results(x, n):
    """A recursion returning two numbers."""
    a, b = _pair(x, n)
    return a + 2.0 * b


PICKS = np.array([2, 0, 3, 1, 2, 2])
PICKED = np.array([0.2, 0.5, 0.9, 0.1])


# ====================================================================== early returns

def early_return_loop(x):
    s = 0.0
    for i in range(100):
        s += math.exp(0.01 * i) * x
        if s > 25.0:
            return s * x
    return -s


def early_return_top(x, y):
    if x < 0.0:
        return -x * y
    if y > 3.0:
        return x / y
    z = x * y + math.log(1.0 + x * x)
    return z * z


def early_return_nested(x, y):
    """Return from inside a doubly nested loop."""
    s = 0.0
    for i in range(20):
        for j in range(20):
            s += x * 0.01 * (i + 1) + y * 0.001 * j
            if s > 4.0:
                return s * math.cos(x)
    return s + y


# ====================================================================== ranges

def range_negative_step(x):
    s = 0.0
    for i in range(20, 0, -3):
        s = s * 0.9 + math.sin(x * i)
    return s


def range_wide_step(x, n):
    s = 1.0
    for i in range(1, n, 4):
        s = s + x ** 2 / i
    for j in range(n, -n, -5):
        s = s - 0.01 * x * j
    return s


# ====================================================================== numerical methods

def _ode_rhs(t, y, k):
    return -k * y + math.sin(t)


def rk4(k, y0):
    """Classic RK4 for y' = -k y + sin t on [0, 2], 200 steps."""
    n = 200
    h = 2.0 / n
    y = y0
    t = 0.0
    for _ in range(n):
        k1 = _ode_rhs(t, y, k)
        k2 = _ode_rhs(t + 0.5 * h, y + 0.5 * h * k1, k)
        k3 = _ode_rhs(t + 0.5 * h, y + 0.5 * h * k2, k)
        k4 = _ode_rhs(t + h, y + h * k3, k)
        y = y + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        t = t + h
    return y


def horner(x, coeffs):
    """Horner's rule over an inactive coefficient array."""
    p = 0.0
    for i in range(coeffs.shape[0] - 1, -1, -1):
        p = p * x + coeffs[i]
    return p


def newton_sqrt(a):
    """Newton iteration for sqrt(a), with a while loop."""
    x = a if a > 1.0 else 1.0
    it = 0
    while abs(x * x - a) > 1e-15 * a and it < 100:
        x = 0.5 * (x + a / x)
        it += 1
    return x


def newton_cubic(p, q):
    """Newton for the real root of x**3 + p x - q (p > 0), while True + break."""
    x = 1.0
    for _ in range(200):
        fx = x * x * x + p * x - q
        dx = fx / (3.0 * x * x + p)
        x = x - dx
        if abs(dx) < 1e-15 * (1.0 + abs(x)):
            break
    return x


def weighted_grid(x, w):
    """Reads a 2-D inactive array element by element, bounds from ``.shape``."""
    s = 0.0
    for i in range(w.shape[0]):
        for j in range(w.shape[1]):
            s += w[i, j] * math.tanh(x * (i + 1) - 0.3 * j)
    return s


def trapezoid(a, b):
    """Trapezoid rule for the integral of exp(-a t^2) on [0, b], 400 panels."""
    n = 400
    h = b / n
    s = 0.5 * (1.0 + math.exp(-a * b * b))
    for i in range(1, n):
        t = i * h
        s += math.exp(-a * t * t)
    return s * h


# ====================================================================== kinks

def kinks(x, y):
    """min / max / abs / fabs, evaluated away from their kinks."""
    return max(x, y) * min(x, 2.0) + abs(x - y) + math.fabs(y) * min(x * y, 1.0, y)


def clipped_loop(x):
    s = 0.0
    for i in range(30):
        s = min(max(s + x * math.sin(i), -1.0), 1.0) + 0.01 * s
    return s


# ====================================================================== mixed int / float

def int_counter(x, y):
    """An integer counter driven by comparisons of active values."""
    count = 0
    s = 0.0
    for i in range(40):
        v = math.sin(x * i) + y
        if v > 0.5:
            count += 1
            s += v
    return s * count + x / (count + 1)


def int_float_arith(x, n):
    m = n // 2
    r = n % 3
    s = x * m + x ** r
    for i in range(m):
        s = s + (i + 1) / n * x
    return s / (r + 1)


def bool_flag(x, y, flag):
    if flag:
        return x * y + math.sin(x)
    return x - y


# ====================================================================== operators and functions

def augmented(x, y):
    s = x
    s += y
    s *= x
    s -= 0.5 * y
    s /= 1.0 + y * y
    s **= 2
    t = y * 3.0
    t %= 1.0
    u = y
    u //= 0.3
    return s + t * x + u * x


def floor_mod(x, y):
    """// and % of floats: piecewise smooth; d(x % c)/dx is 1."""
    return (x // 0.7) * y + (x % 0.7) * y * y + (y * 3.0) % x


def pow_mix(x, y):
    return x ** y + x ** 3 + 2.0 ** x + pow(x, y - 1.0) + x ** -1.5 + math.pow(y, 0.5)


def math_zoo(x, y):
    a = math.atan2(x, y) + math.hypot(x, y) + math.erf(x) + math.erfc(y)
    b = math.log1p(x) + math.expm1(y) + np.cbrt(x * y) + math.tanh(x - y)
    c = math.asinh(x) + math.acosh(1.0 + y) + math.atanh(x / 4.0)
    d = math.asin(x / 3.0) + math.acos(y / 3.0) + math.atan(x * y)
    e = math.sinh(x) * math.cosh(y) + math.tan(x / 2.0)
    f = math.log(x) + math.log2(y) + math.log10(x + y) + math.sqrt(x + 2.0 * y)
    return a + b + c + d + e + f


def numpy_scalars(x, y):
    return np.sin(x) * np.exp(-y) + np.sqrt(np.abs(x - y)) + np.arctan2(y, x) + np.log(x * y)


def rounding_pieces(x):
    """floor/ceil/trunc/round/copysign: piecewise constant factors."""
    return x * math.floor(x) + math.ceil(x * 2.0) * x * x + math.trunc(x) + round(x) * x \
        + math.copysign(x * x, x - 2.0)


def unary_minus_chain(x, y):
    z = -x
    w = -(z * y) + -(-y)
    return -z * w - abs(-w)


# ====================================================================== stop_gradient

def stopped(x, y):
    c = sd.stop_gradient(x * y)
    return c * x + math.sin(y) * c


def stopped_in_loop(x):
    s = x
    for _ in range(10):
        s = 0.5 * s + sd.stop_gradient(s) * 0.1 + x
    return s


# ====================================================================== aux and several outputs

def value_with_aux(x, y):
    v = math.sin(x) * y + x * x
    return v, x * y


def with_int_aux(x, y):
    n = 0
    s = 0.0
    while s < 5.0:
        s += x * y
        n += 1
    return s * x, n


def polar_pair(x, y):
    r = math.hypot(x, y)
    t = math.atan2(y, x)
    return r, t


def loop_triple(x, y, z):
    a = x
    b = y
    for i in range(25):
        a, b = a + 0.05 * math.sin(b * z), b - 0.05 * math.cos(a + 0.01 * i)
    return a, b, a * b * z


# ====================================================================== the table

@dataclass
class Case:
    fn: object
    points: list                     # argument tuples
    floats: tuple                    # positions of the float arguments
    grad_ref: object = None          # analytic gradient, where finite differences do not apply

    @property
    def id(self):
        return self.fn.__name__


COEFFS = np.array([1.0, -0.5, 0.25, 2.0, -1.25, 0.75])
WEIGHTS = np.array([[0.5, -1.0, 0.25], [1.5, 0.3, -0.7]])


def _stopped_grad(x, y):
    c = x * y
    return (c, math.cos(y) * c)


def _stopped_in_loop_grad(x):
    # s_{k+1} = 0.5 s_k + (const) + x  =>  ds_{k+1}/dx = 0.5 ds_k/dx + 1, ds_0/dx = 1
    d = 1.0
    for _ in range(10):
        d = 0.5 * d + 1.0
    return (d,)


CASES = [
    Case(logistic_relaxation, [(2.8, 0.3), (3.1 - 0.35, 0.62)], (0, 1)),
    Case(damped_recurrence, [(0.7, 0.2, 300), (0.5, -0.3, 1000)], (0, 1)),
    Case(compound_growth, [(0.05, 100.0), (-0.3, 2.5)], (0, 1)),
    Case(second_order_recurrence, [(0.4, 0.7), (-1.2, 0.3)], (0, 1)),
    Case(euler_pendulum, [(0.5, 0.0, 0.3), (1.2, -0.4, 0.8)], (0, 1, 2)),
    Case(nested_grid, [(0.3, -0.2), (1.1, 0.7)], (0, 1)),
    Case(triangular, [(0.4, 15), (-0.7, 30)], (0,)),
    Case(triple_nested, [(0.3, 0.5), (-0.8, 1.3)], (0, 1)),
    Case(piecewise, [(2.0, 1.0), (0.5, 1.5), (-0.7, 0.4)], (0, 1)),
    Case(branch_in_loop, [(0.37,), (1.3,)], (0,)),
    Case(cond_expr_logic, [(1.5, 0.5), (0.4, 1.7), (-1.6, 2.5), (-0.5, -0.3)], (0, 1)),
    Case(while_break, [(0.37,), (2.3,)], (0,)),
    Case(for_continue, [(0.3, 20), (1.7, 7)], (0,)),
    Case(while_continue, [(0.9,), (-2.1,)], (0,)),
    Case(for_break_active, [(0.7, 1.1), (0.001, 0.2)], (0, 1)),  # breaks / runs out
    Case(nested_while_for, [(1.3,), (0.45,)], (0,)),
    Case(while_test_and_break, [(0.3,), (0.7,), (4.0,)], (0,)),
    Case(two_returns_in_loop, [(1.0,), (3.0,), (6.0,), (11.0,)], (0,)),
    Case(self_assignment, [(0.7,), (-1.3,)], (0,)),
    Case(constant_argument_reassigned, [(0.7,), (-1.3,)], (0,)),
    Case(negative_constant_power, [(0.7,), (-1.3,)], (0,)),
    Case(helper_calls, [(0.6, 1.4), (-0.9, 0.3)], (0, 1)),
    Case(helper_tuple, [(1.2, 0.5), (-0.4, 2.0)], (0, 1)),
    Case(helper_loop_chain, [(0.5, 6), (1.4, 3)], (0,)),
    Case(recursive_power, [(1.1, 7), (-0.8, 4)], (0,)),
    Case(recursive_tree, [(0.6, 7), (1.3, 5)], (0,)),
    Case(mutual_recursion, [(0.6, 7), (1.3, 4)], (0,)),
    Case(recursion_in_a_loop, [(0.6, 5), (-0.4, 3)], (0,)),
    Case(recursion_then_loop, [(0.6, 4), (1.3, 2)], (0,)),
    Case(recursion_with_while, [(3.7, 4), (0.3, 3)], (0,)),
    Case(recursion_early_return, [(0.3, 4), (1.9, 3)], (0,)),
    Case(recursion_pair_results, [(0.6, 5), (-0.3, 3)], (0,)),
    Case(recursion_over_indices, [(0.7, PICKED, PICKS), (-1.2, PICKED, PICKS)], (0,)),
    Case(early_return_loop, [(0.7,), (0.1,)], (0,)),
    Case(early_return_top, [(-1.5, 2.0), (1.2, 4.0), (0.8, 1.3)], (0, 1)),
    Case(early_return_nested, [(0.3, 0.2), (0.01, 0.002)], (0, 1)),
    Case(range_negative_step, [(0.13,), (0.9,)], (0,)),
    Case(range_wide_step, [(0.7, 23), (-1.3, 10)], (0,)),
    Case(rk4, [(0.8, 1.0), (2.5, -0.3)], (0, 1)),
    Case(horner, [(0.7, COEFFS), (-1.3, COEFFS)], (0,)),
    Case(newton_sqrt, [(2.0,), (0.3,), (150.0,)], (0,)),
    Case(newton_cubic, [(1.0, 3.0), (2.5, -1.0)], (0, 1)),
    Case(weighted_grid, [(0.4, WEIGHTS), (-0.9, WEIGHTS)], (0,)),
    Case(trapezoid, [(0.5, 2.0), (1.3, 0.8)], (0, 1)),
    Case(kinks, [(1.3, 0.6), (0.4, 1.7), (2.5, -0.5)], (0, 1)),
    Case(clipped_loop, [(0.05,), (0.3,)], (0,)),
    Case(int_counter, [(0.3, 0.4), (1.1, -0.2)], (0, 1)),
    Case(int_float_arith, [(0.8, 7), (-1.4, 12)], (0,)),
    Case(bool_flag, [(0.5, 1.5, True), (0.5, 1.5, False)], (0, 1)),
    Case(augmented, [(0.6, 2.3), (-1.1, 0.4)], (0, 1)),
    Case(floor_mod, [(1.9, 0.8), (2.6, 1.3)], (0, 1)),
    Case(pow_mix, [(1.3, 2.2), (0.7, 1.6)], (0, 1)),
    Case(math_zoo, [(0.7, 1.3), (1.9, 0.4)], (0, 1)),
    Case(numpy_scalars, [(0.7, 1.3), (2.1, 0.4)], (0, 1)),
    Case(rounding_pieces, [(1.3,), (2.6,), (-0.7,)], (0,)),
    Case(unary_minus_chain, [(0.8, 1.6), (-1.5, 0.3)], (0, 1)),
    Case(stopped, [(0.8, 1.6), (-1.5, 0.3)], (0, 1), grad_ref=_stopped_grad),
    Case(stopped_in_loop, [(0.8,), (-1.5,)], (0,), grad_ref=_stopped_in_loop_grad),
]

AUX_CASES = [
    Case(value_with_aux, [(0.7, 1.3), (-1.2, 0.4)], (0, 1)),
    Case(with_int_aux, [(0.7, 1.3), (0.35, 2.2)], (0, 1)),
]

VECTOR_CASES = [
    Case(polar_pair, [(1.2, 0.5), (-0.4, 2.0)], (0, 1)),
    Case(loop_triple, [(0.3, 0.8, 1.5), (-0.6, 0.2, 0.7)], (0, 1, 2)),
]

# Programs (a subset of CASES) whose Hessian is checked: some straight-line or
# tape-free loops, and some whose reverse pass stores values on a tape
# (overwritten variables, loops, branches) or recurses.
HESSIAN_CASES = [c for c in CASES if c.fn in (
    nested_grid, piecewise, helper_tuple, math_zoo, kinks, pow_mix, range_wide_step,
    for_continue, range_negative_step, int_float_arith,
    euler_pendulum, rk4, while_break, horner, recursive_power, mutual_recursion, early_return_top,
    augmented)]
