"""Helpers that generated code calls.

Each is a plain function, so the Python backend runs it as it is and the
Numba backend compiles it (see ``backends/numba_runtime.py``).  Each has a
derivative rule in ``rules/scalar.py`` or ``rules/arrays.py``, which keeps
generated code inside the language sourcediff differentiates.
"""
import numpy as np


def stop_gradient(x):
    """Identity whose derivative is zero."""
    return x


def indicator(condition):
    """1.0 where ``condition`` holds, else 0.0 (Numba has no ``float(bool)``)."""
    if condition:
        return 1.0
    return 0.0


def safe_log(x):
    """log(x) for x > 0, else 0: d(x ** y)/dy = x ** y * safe_log(x) is 0 at x = 0, as in JAX."""
    if x > 0.0:
        return np.log(x)
    return 0.0


def pos_inv(x):
    """1 / x for x > 0, else 0: the derivative of safe_log."""
    if x > 0.0:
        return 1.0 / x
    return 0.0


def reserve(tape, needed):
    """``tape`` with room for ``needed`` entries: itself, or a larger copy."""
    size = tape.shape[0]
    if needed <= size:
        return tape
    grown = np.empty(max(needed, 2 * size), tape.dtype)
    for i in range(size):      # a loop: Numba compiles a slice copy's error path in seconds
        grown[i] = tape[i]
    return grown


def put(tape, pos, value):
    """``tape[pos] = value`` where the tape has room; past its end, nothing (a split forward
    half runs on its caller's tape without growing it: the caller sees the position pass
    the end and runs it again on a longer tape)."""
    if pos < tape.shape[0]:
        tape[pos] = value


_remembered = {}
_kept = {}
LARGE_TAPE = 1 << 20        # entries: tapes this long are kept for the next call


def room(tape, pos, needed, key):
    """``tape`` with room for ``needed`` entries, its first ``pos`` kept: itself, or a longer
    one; a long one is the tape kept under ``key`` (see ``keep``) where that is long enough,
    which saves the operating system clearing fresh pages on every call."""
    if needed <= tape.shape[0]:
        return tape
    if needed < LARGE_TAPE:
        return reserve(tape, needed)
    return _kept_tape(tape, pos, needed, key)


def _kept_tape(tape, pos, needed, key):
    kept = _kept.pop(key, None)
    if kept is None or kept.shape[0] < needed or kept.dtype != tape.dtype:
        kept = np.empty(max(needed, 2 * tape.shape[0]), tape.dtype)
    kept[:pos] = tape[:pos]
    return kept


def keep(tape, key):
    """Hold a long ``tape`` for the next ``room`` under ``key`` (one tape a key)."""
    if tape.shape[0] >= LARGE_TAPE:
        _kept[key] = tape


room_float = room_int = room         # one a tape type where Numba compiles them
keep_float = keep_int = keep


def recall(site):
    """The tape room the split call at ``site`` needed when it last ran out (0 at first)."""
    return _remembered.get(site, 0)


def remember(site, room):
    _remembered[site] = room


def trip_count(start, stop, step):
    """How many times ``range(start, stop, step)`` runs."""
    if step > 0:
        return max(0, (stop - start + step - 1) // step)
    return max(0, (start - stop - step - 1) // (-step))


def accumulate(bar, g):
    """``bar += g`` with NumPy's broadcasting both ways: ``g`` summed over the axes ``bar``
    lacks or has length 1 in, and spread over the axes ``g`` has length 1 in.  Returns ``bar``."""
    g = np.asarray(g)          # operations on 0-d arrays give scalars, in NumPy and in Numba
    if bar.shape == g.shape:
        bar += g
        return bar
    ndim = max(bar.ndim, g.ndim)
    extent = np.ones(ndim, np.int64)
    bar_stride = np.zeros(ndim, np.int64)       # 0 where bar is broadcast
    g_stride = np.zeros(ndim, np.int64)
    step = 1
    for d in range(bar.ndim - 1, -1, -1):
        k = d + ndim - bar.ndim
        extent[k] = max(extent[k], bar.shape[d])
        if bar.shape[d] != 1:
            bar_stride[k] = step
        step *= bar.shape[d]
    step = 1
    for d in range(g.ndim - 1, -1, -1):
        k = d + ndim - g.ndim
        extent[k] = max(extent[k], g.shape[d])
        if g.shape[d] != 1:
            g_stride[k] = step
        step *= g.shape[d]
    summed = np.zeros(bar.size, bar.dtype)
    flat = np.ascontiguousarray(g).reshape(g.size)
    for k in range(np.prod(extent)):
        rest, to, source = k, 0, 0
        for d in range(ndim - 1, -1, -1):
            i = rest % extent[d]
            rest //= extent[d]
            to += i * bar_stride[d]
            source += i * g_stride[d]
        summed[to] += flat[source]
    bar += summed.reshape(bar.shape)
    return bar


def prod_partials(x):
    """The product of all elements of ``x`` but one, for each element (zeros allowed)."""
    flat = x.reshape(x.size)
    out = np.empty(x.size, x.dtype)
    acc = 1.0
    for k in range(x.size):
        out[k] = acc
        acc *= flat[k]
    acc = 1.0
    for k in range(x.size - 1, -1, -1):
        out[k] *= acc
        acc *= flat[k]
    return out.reshape(x.shape)


def flat_item(x, k):
    """Element ``k`` of ``x`` in C order (what ``np.argmax`` counts)."""
    return x.reshape(x.size)[k]


def one_hot(x, k, value):
    """An array shaped like ``x``: ``value`` at flat position ``k``, zeros elsewhere."""
    out = np.zeros(x.size, np.float64)
    out[k] = value
    return out.reshape(x.shape)


def push_view(tape, pos, view):
    """Append the elements of ``view`` to ``tape`` (grown as needed): (tape, new position)."""
    if pos + view.size > tape.shape[0]:
        grown = np.empty(max(pos + view.size, 2 * tape.shape[0]), tape.dtype)
        grown[:pos] = tape[:pos]
        tape = grown
    tape[pos:pos + view.size] = np.ascontiguousarray(view).reshape(view.size)
    return tape, pos + view.size


def pop_view(tape, pos, view):
    """Write the last ``view.size`` elements of ``tape`` back into ``view``: the new position."""
    pos -= view.size
    view[...] = tape[pos:pos + view.size].reshape(view.shape)
    return pos


def restore_view(tape, pos, view):
    """Write ``tape[pos:pos + view.size]`` back into ``view``, leaving it on the tape: the
    position after it."""
    view[...] = tape[pos:pos + view.size].reshape(view.shape)
    return pos + view.size


def ref_tape(x):
    """An empty list for the arrays a variable like ``x`` is bound to, in order."""
    tape = [x]
    tape.pop()
    return tape


def push_ref(tape, x):
    """``tape`` with the array ``x`` appended."""
    tape.append(x)
    return tape


def pop_ref(tape):
    """The array appended last, removed from ``tape``."""
    return tape.pop()


def zeroed(old, shape, written=0):
    """Zeros of ``shape``: ``old`` itself, filled with them, where it has that shape (an
    adjoint nothing else holds, made again for the binding before; no allocation a loop
    iteration).  The first ``written`` elements of a 1-d ``old`` keep their values: the
    code writes them before it reads them."""
    if old.shape != shape:
        return np.zeros(shape, old.dtype)
    if written > 0:
        old[written:] = 0
    else:
        old.fill(0)
    return old
