"""Jacobians with array inputs or outputs, from one sweep per input or output element.

Entry functions of ``jacfwd``/``jacrev`` (plain Python around the compiled
JVP and VJP) call these.  Each returns the Jacobian blocks flat, output by
output and, within one, argument by argument; block (i, j) has the shape of
output i followed by the shape of argument j, as in JAX.
"""
import numpy as np


def _zero(x):
    return np.zeros(np.shape(x)) if isinstance(x, np.ndarray) else 0.0


def _units(x):
    """Unit tangents or seeds: 1.0 for a number, arrays (0-d ones too) for an array."""
    if not isinstance(x, np.ndarray):
        yield 1.0
        return
    for k in range(np.size(x)):
        e = np.zeros(np.shape(x), dtype=np.result_type(x, np.float32))
        e.flat[k] = 1.0
        yield e


def _block(pieces, axis, out_shape, arg):
    """Sweeps (one per element of the swept side) stacked, shaped output + argument: a number
    where both are numbers, a 0-d array where one is a 0-d array."""
    stacked = np.stack([np.asarray(p) for p in pieces], axis=axis)
    shape = out_shape + np.shape(arg)
    if not shape and not isinstance(arg, np.ndarray) and not any(isinstance(p, np.ndarray) for p in pieces):
        return float(stacked.reshape(()))
    return stacked.reshape(shape)


def forward(jvp, args, nums, n_outputs, float_outputs):
    """(primal outputs, Jacobian blocks): one JVP per element of each differentiated argument."""
    order = sorted(set(nums))
    outputs, blocks = None, {}
    for n in order:
        columns = []
        for t in _units(args[n]):
            tangents = [t if m == n else _zero(args[m]) for m in order]
            result = jvp(*args, *tangents)
            outputs, dots = result[:n_outputs], result[n_outputs:]
            columns.append(dots)
        for i in range(len(float_outputs)):
            blocks[i, n] = _block([c[i] for c in columns], -1, np.shape(columns[0][i]), args[n])
    return tuple(outputs), [blocks[i, n] for i in range(len(float_outputs)) for n in nums]


DIRECTIONS_PER_SWEEP = 32     # a vector JVP's tangents hold this many columns at most


def forward_vector(jvps, args, nums, n_outputs, float_outputs):
    """What ``forward`` returns, from vector JVPs (``vector_forward``): each sweep moves up to
    ``DIRECTIONS_PER_SWEEP`` of the differentiated arguments' elements at once."""
    order = sorted(set(nums))
    sizes = [int(np.size(args[n])) for n in order]
    starts = np.cumsum([0] + sizes)
    outputs, columns = None, []
    for first in range(0, max(int(starts[-1]), 1), DIRECTIONS_PER_SWEEP):
        count = min(DIRECTIONS_PER_SWEEP, int(starts[-1]) - first)
        tangents = []
        for n, start, size in zip(order, starts, sizes):
            tangent = np.zeros((size, count), dtype=np.result_type(np.asarray(args[n]).dtype, np.float32))
            moved = np.arange(max(first, start), min(first + count, start + size))
            tangent[moved - start, moved - first] = 1.0
            tangents.append(tangent.reshape(np.shape(args[n]) + (count,)))
        result = jvps(*args, *tangents, count)
        outputs = result[:n_outputs]
        columns.append(result[n_outputs:])
    blocks = {}
    for i in range(len(float_outputs)):
        dots = columns[0][i] if len(columns) == 1 else np.concatenate([c[i] for c in columns], axis=-1)
        for n, start, size in zip(order, starts, sizes):
            block = dots[..., start:start + size].reshape(np.shape(dots)[:-1] + np.shape(args[n]))
            numbers = not isinstance(args[n], np.ndarray) and not isinstance(outputs[float_outputs[i]], np.ndarray)
            blocks[i, n] = float(block) if numbers else block
    return tuple(outputs), [blocks[i, n] for i in range(len(float_outputs)) for n in nums]


def vjp_from_jvps(jvp, args, nums, n_outputs, seeds):
    """What a VJP returns, (outputs..., cotangents of the arguments ``nums``), from one JVP per
    element of those arguments: for code reverse mode cannot run."""
    outputs, bars = jvp(*args, *(_zero(args[n]) for n in nums))[:n_outputs], []
    for n in nums:
        bar = []
        for t in _units(args[n]):
            tangents = [t if m == n else _zero(args[m]) for m in nums]
            dots = jvp(*args, *tangents)[n_outputs:]
            bar.append(sum(np.vdot(s, d) for s, d in zip(seeds, dots)))
        bars.append(np.array(bar, dtype=args[n].dtype).reshape(args[n].shape) if isinstance(args[n], np.ndarray)
                    else float(bar[0]))
    return tuple(outputs) + tuple(bars)


def reverse(vjp, primal, args, nums, n_outputs, float_outputs):
    """(primal outputs, Jacobian blocks): one VJP per element of each float output."""
    outputs = primal(*args)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    order = sorted(set(nums))
    floats = [outputs[i] for i in float_outputs]
    blocks = {}
    for i, out in enumerate(floats):
        rows = {n: [] for n in order}
        for seed in _units(out):
            seeds = [seed if k == i else _zero(o) for k, o in enumerate(floats)]
            bars = vjp(*args, *seeds)[n_outputs:]
            for n, bar in zip(order, bars):
                rows[n].append(bar)
        for n in order:
            blocks[i, n] = _block(rows[n], 0, np.shape(out), args[n])
    return outputs, [blocks[i, n] for i in range(len(floats)) for n in nums]


def sweeps_in_code(direction, derivative, primal, params, kinds, nums, outputs, into=(), shapes=False):
    """The statements of ``forward``/``reverse`` written as loops in the supported subset,
    for a Jacobian taken inside differentiated or compiled code.  ``kinds`` are the
    parameters' kinds, ``outputs`` the outputs' (arrays or floats); ``nums`` the positions
    of the parameters differentiated.  Block (i, j) is named ``_j{i}_{j}``.  In reverse,
    ``derivative`` returns only cotangents, and adds those of the parameters ``into`` into
    the arrays passed after the seeds: the Jacobian's rows.  ``primal`` returns the outputs,
    or with ``shapes`` only the array outputs' lengths (see ``program.return_shapes``)."""
    def is_array(kind):
        return hasattr(kind, "ndim")

    outs = [f"_o{i}" for i in range(len(outputs))]
    lengths = {o: [f"{o}_{d}" for d in range(k.ndim)] for o, k in zip(outs, outputs) if is_array(k)}

    def dims(value, kind):
        if shapes and value in lengths:
            return lengths[value]
        return [f"{value}.shape[{d}]" for d in range(kind.ndim)] if is_array(kind) else []

    def like(allocate, value, kind):
        if shapes and value in lengths:
            return f"np.{allocate}(({''.join(n + ', ' for n in lengths[value])}), np.{kind.dtype})"
        return f"np.{allocate}_like({value})"

    def zero(value, kind):
        return like("zeros", value, kind) if is_array(kind) else "0.0"

    def sweep(value, kind, unit):
        """(loops over the elements of ``value`` each setting ``unit`` to a one there, indices,
        indent of the loop body); a float is its own unit, 1.0.  One array serves every
        sweep, zeroed again each time (the call it is passed to may have used it)."""
        if not is_array(kind):
            return [], [], "", "1.0"
        ks = [f"_k{d}" for d in range(kind.ndim)]
        loops = [f"{'    ' * d}for {k} in range({n}):" for d, (k, n) in enumerate(zip(ks, dims(value, kind)))]
        pad = "    " * kind.ndim
        every = ", ".join([":"] * kind.ndim)
        return [f"{unit} = {like('empty', value, kind)}"] + loops + \
            [f"{pad}{unit}[{every}] = 0.0", f"{pad}{unit}[{', '.join(ks)}] = 1.0"], ks, pad, unit

    returned = [n for o in outs for n in lengths.get(o, [])] if shapes else outs
    lines = [f"{', '.join(returned)} = {primal}({', '.join(params)})"] if returned else []
    for i, out_kind in enumerate(outputs):
        for j in nums:
            shape = dims(outs[i], out_kind) + dims(params[j], kinds[j])
            lines.append(f"_j{i}_{j} = np.zeros(({', '.join(shape)},))" if shape else f"_j{i}_{j} = 0.0")
    if direction == "reverse":          # one backward sweep per element of each output
        returned = [j for j in nums if j not in into]
        bars = [f"_b{j}" for j in returned]
        for i, out_kind in enumerate(outputs):
            loops, ks, pad, unit = sweep(outs[i], out_kind, "_seed")
            seeds = [unit if m == i else zero(o, k) for m, (o, k) in enumerate(zip(outs, outputs))]
            rows = [f"_j{i}_{j}[{', '.join(ks)}]" if ks else f"_j{i}_{j}" for j in nums if j in into]
            got = ", ".join(bars) + ("," if len(bars) == 1 else "") if bars else "_"
            lines += loops + [f"{pad}{got} = {derivative}({', '.join(params + seeds + rows)})"]
            lines += [f"{pad}_j{i}_{j}[{', '.join(ks)}] = {bar}" if ks else f"{pad}_j{i}_{j} = {bar}"
                      for j, bar in zip(returned, bars)]
    else:                               # one forward sweep per element of each input
        dots = [f"_d{i}" for i in range(len(outputs))]
        for j in nums:
            loops, ks, pad, unit = sweep(params[j], kinds[j], "_tangent")
            tangents = [unit if m == j else zero(params[m], kinds[m]) for m in nums]
            lines += loops + [f"{pad}{', '.join(['_'] * len(outs) + dots)} = {derivative}({', '.join(params + tangents)})"]
            lines += [f"{pad}_j{i}_{j}[{', '.join([':'] * getattr(k, 'ndim', 0) + ks)}] = {dot}" if ks
                      else f"{pad}_j{i}_{j} = {dot}" for i, (k, dot) in enumerate(zip(outputs, dots))]
    return "\n".join(lines)
