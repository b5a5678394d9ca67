"""Jacobians with array inputs or outputs, from one sweep per input or output element.

Entry functions of ``jacfwd``/``jacrev`` (plain Python around the compiled
JVP and VJP) call these.  Each returns the Jacobian blocks flat, output by
output and, within one, argument by argument; block (i, j) has the shape of
output i followed by the shape of argument j, as in JAX.
"""
import numpy as np


def _zero(x):
    return np.zeros(np.shape(x)) if np.ndim(x) else 0.0


def _units(x):
    if not np.ndim(x):
        yield 1.0
        return
    for k in range(np.size(x)):
        e = np.zeros(np.shape(x), dtype=np.result_type(x, np.float32))
        e.flat[k] = 1.0
        yield e


def _block(pieces, axis, out_shape, arg_shape):
    """Sweeps (one per element of the swept side) stacked, shaped output + argument."""
    stacked = np.stack([np.asarray(p) for p in pieces], axis=axis)
    return stacked.reshape(out_shape + arg_shape) if out_shape + arg_shape else float(stacked.reshape(()))


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
            blocks[i, n] = _block([c[i] for c in columns], -1, np.shape(columns[0][i]), np.shape(args[n]))
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
        bars.append(np.array(bar, dtype=args[n].dtype).reshape(args[n].shape) if np.ndim(args[n])
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
            blocks[i, n] = _block(rows[n], 0, np.shape(out), np.shape(args[n]))
    return outputs, [blocks[i, n] for i in range(len(floats)) for n in nums]
