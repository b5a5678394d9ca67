"""The runtime helpers compiled by Numba, for generated modules on the Numba backend."""
import numpy as np
from llvmlite import ir
from numba import njit, objmode, types
from numba.extending import intrinsic

from ..rules import runtime as _py


def _compiled(fn):
    return njit(error_model='numpy', cache=True)(fn)


stop_gradient = _compiled(_py.stop_gradient)
indicator = _compiled(_py.indicator)
safe_log = _compiled(_py.safe_log)
pos_inv = _compiled(_py.pos_inv)
reserve = _compiled(_py.reserve)
put = _compiled(_py.put)


def _with_kept_tapes(tape_type):
    """``room`` and ``keep`` for tapes of one type: the kept tapes live in Python."""
    @_compiled
    def room(tape, pos, needed, key):
        if needed <= tape.shape[0]:
            return tape
        if needed < _py.LARGE_TAPE:
            return reserve(tape, needed)
        with objmode(kept=tape_type):
            kept = _py._kept_tape(tape, pos, needed, key)
        return kept

    @_compiled
    def keep(tape, key):
        if tape.shape[0] >= _py.LARGE_TAPE:
            with objmode():
                _py.keep(tape, key)
    return room, keep


room_float, keep_float = _with_kept_tapes(types.float64[::1])
room_int, keep_int = _with_kept_tapes(types.int64[::1])
trip_count = _compiled(_py.trip_count)
accumulate = _compiled(_py.accumulate)
prod_partials = _compiled(_py.prod_partials)
flat_item = _compiled(_py.flat_item)
one_hot = _compiled(_py.one_hot)
ref_tape = _compiled(_py.ref_tape)
push_ref = _compiled(_py.push_ref)
pop_ref = _compiled(_py.pop_ref)
zeroed = _compiled(_py.zeroed)


# The view tape's helpers element by element: NumPy's slice copies cost more than the
# copying itself for the short views they mostly save (a row, an index array).
@_compiled
def push_view(tape, pos, view):
    tape = reserve(tape, pos + view.size)
    for x in np.nditer(view):
        tape[pos] = x.item()
        pos += 1
    return tape, pos


@_compiled
def restore_view(tape, pos, view):
    for x in np.nditer(view):
        x[()] = tape[pos]
        pos += 1
    return pos


@_compiled
def pop_view(tape, pos, view):
    restore_view(tape, pos - view.size, view)
    return pos - view.size


@njit(cache=True)
def breakpoint():
    """Compiled code cannot stop in a debugger; the Python backend stops at breakpoint()."""


# ``recall`` and ``remember`` keep one integer a call site for as long as the compiled code
# lives (an LLVM global of the module, so the on-disk cache keeps it working): the tape
# room a split call needed, so that later calls reserve it before they run.
def _site_global(builder, site):
    name = "sourcediff_remembered_" + site.literal_value
    gv = builder.module.globals.get(name)
    if gv is None:
        gv = ir.GlobalVariable(builder.module, ir.IntType(64), name)
        gv.initializer = ir.Constant(ir.IntType(64), 0)
        gv.linkage = "internal"
    return gv


@intrinsic
def recall(typingctx, site):
    if not isinstance(site, types.StringLiteral):
        return None
    return types.int64(site), lambda context, builder, sig, args: builder.load(_site_global(builder, site))


@intrinsic
def remember(typingctx, site, room):
    if not isinstance(site, types.StringLiteral) or not isinstance(room, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        builder.store(context.cast(builder, args[1], room, types.int64), _site_global(builder, site))
        return context.get_dummy_value()
    return types.none(site, room), codegen
