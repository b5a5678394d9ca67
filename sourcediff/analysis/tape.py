"""What the backward sweep needs, and how it gets it.

The backward sweep runs the statements' adjoints in reverse order, and at
each one it needs the values the variables had just after that statement ran
forward.  A variable gets them one of three ways:

* it is bound once and never again (a parameter or a single assignment
  outside loops): nothing to do;
* it is *recomputable*: bound once by a cheap operation whose operands do not
  change before the end of its block, so the backward sweep evaluates it
  again where it needs it;
* otherwise it is *taped*: its old value is pushed before every assignment in
  the forward sweep and popped after that assignment's adjoint.
"""
import ast
from dataclasses import dataclass, field

from .. import kinds as K
from ..custom import custom_vjp
from ..errors import error_at
from ..frontend.normalize import instantiate, is_breakif
from .activity import aliases
from .dataflow import (assigned_names, index_atoms, is_write, names, op_kind, operands, read_names, targets,
                       walk)

CHEAP_RULES = {"add", "sub", "mult", "div", "neg", "pos", "lt", "le", "gt", "ge", "eq", "ne",
               "not", "abs", "fabs", "max", "min", "square", "float", "int", "bool", "floordiv",
               "mod", "indicator", "stop_gradient", "sign", "floor", "ceil", "trunc", "round",
               "np_floor", "np_ceil", "np_trunc", "invert", "bitand", "bitor", "bitxor"}


@dataclass
class Plan:
    active: set
    needed: set = field(default_factory=set)       # read by the backward sweep
    recompute: dict = field(default_factory=dict)  # name -> its single assignment
    taped: set = field(default_factory=set)
    saved_loop_vars: set = field(default_factory=set)
    pushes: set = field(default_factory=set)         # (statement id, name): save before it
    defined_first: set = field(default_factory=set)  # names first bound at the top level
    values_read: set = field(default_factory=set)    # array names whose elements the backward sweep reads
    groups: dict = field(default_factory=dict)       # array name -> names sharing its elements

    def pushed(self, stmt, name):
        return (id(stmt), name) in self.pushes

    def keeps_value(self, array):
        """Whether the arrays a rebound name held come back in the backward sweep, or only
        their adjoints: where it reads no elements, it takes shapes from the adjoints."""
        return array not in self.active or array in self.values_read


def partial_reads(stmt, active):
    """Names the adjoint of ``v = rule(...)`` reads."""
    expr = stmt.value
    target = targets(stmt)[0]
    self_ref = target in names(expr.sd_args)
    mapping = dict(zip(expr.sd_rule.params, expr.sd_args), ans=ast.Name(target, ast.Load()))
    out = set()
    for atom, partial in zip(expr.sd_args, expr.sd_rule.partials):
        if partial is None or not (isinstance(atom, ast.Name) and atom.id in active):
            continue
        if "ans" in partial and self_ref:
            out.update(names(expr.sd_args))
        out.update(n.id for n in ast.walk(instantiate(partial, mapping)) if isinstance(n, ast.Name))
    return out - {"math", "np", "_rt"}


def adjoint_reads(stmt, plan, types):
    """Names the backward sweep reads for an assignment: values, and arrays whose adjoints it updates."""
    values = value_reads(stmt, plan, types)
    arrays = {n for n in set(targets(stmt)) | set(names(operands(stmt.value))) | set(_written(stmt))
              if n in plan.active and isinstance(types.env.get(n), K.Array)}
    if values is None:
        return set()
    return values | arrays


def value_reads(stmt, plan, types):
    """Names whose values the backward sweep reads for an assignment (None: it does nothing)."""
    active = plan.active
    if any(t in active for t in targets(stmt)):
        expr = stmt.value
        kind = op_kind(expr)
        if kind == "rule":
            return partial_reads(stmt, active)
        if kind == "array":
            return _array_reads(stmt, active, types)
        if kind == "call":
            return set(names(expr.args))
        if kind == "custom":
            return custom_reads(stmt)
        if kind == "read":
            return set(names(index_atoms(expr.slice)))
        return set()
    target = stmt.targets[0]
    if isinstance(target, ast.Subscript) and (target.value.id in active or
                                               (id(stmt), target.value.id) in plan.pushes):
        return set(names(index_atoms(target.slice)))      # where the adjoint or old value goes
    return None


def _array_reads(stmt, active, types):
    expr = stmt.value
    rule = expr.sd_array
    if rule.alias:
        return set()
    kinds = [types.of(a) for a in expr.sd_args]
    mapping = dict(zip(rule.params, expr.sd_args), g=ast.Name("_g", ast.Load()),
                   ans=ast.Name(targets(stmt)[0], ast.Load()))
    out = set()
    for atom, template in zip(expr.sd_args, rule.contributions(kinds) or ()):
        if template is not None and isinstance(atom, ast.Name) and atom.id in active:
            out.update(n.id for n in ast.walk(instantiate(template, mapping)) if isinstance(n, ast.Name))
    return out - {"_g", "math", "np", "_rt"}


def _written(stmt):
    return [stmt.targets[0].value.id] if isinstance(stmt.targets[0], ast.Subscript) else []


def custom_reads(stmt):
    """A JVP rule's transpose reads all arguments; a bwd rule the residuals and nondiff arguments."""
    expr = stmt.value
    if expr.sd_residuals or isinstance(expr.sd_custom.custom, custom_vjp):
        nondiff = expr.sd_custom.custom.nondiff_argnums
        kept = [a for a, p in zip(expr.args, expr.sd_positions) if p in nondiff]
        return set(names(kept)) | set(targets(stmt)[len(targets(stmt)) - expr.sd_residuals:])
    return set(names(expr.args))


def loop_reads(stmt):
    atoms = stmt.iter.args if isinstance(stmt, ast.For) else []
    reads = set(names(atoms))
    if stmt.sd_counter:
        reads.add(stmt.sd_counter)
    return reads


def multiply_assigned(core):
    counts = {p: 1 for p in core.params}
    in_loop = set()

    def visit(stmts, looping):
        for stmt in stmts:
            bound = []
            if isinstance(stmt, ast.Assign):
                bound = targets(stmt)
            elif isinstance(stmt, (ast.For, ast.While)):
                bound = [stmt.sd_counter] if stmt.sd_counter else []
            for n in bound:
                counts[n] = counts.get(n, 0) + 1
                if looping:
                    in_loop.add(n)
            if isinstance(stmt, ast.If):
                visit(stmt.body, looping)
                visit(stmt.orelse, looping)
            elif isinstance(stmt, (ast.For, ast.While)):
                visit(stmt.body, True)
    visit(core.body, False)
    return {n for n, c in counts.items() if c > 1} | in_loop


def _recomputable(core, types):
    """name -> its assignment, for values the backward sweep can evaluate again.

    A candidate is bound once, by a cheap operation, and read only later in
    the same block.  Its operands must not change from its assignment to its
    last use, where a use through another recomputed value counts at that
    value's last use (it is recomputed there).
    """
    defs = {}
    for stmt in walk(core.body):
        if isinstance(stmt, ast.Assign):
            for t in targets(stmt):
                defs.setdefault(t, []).append(stmt)
    loop_bound = {s.target.id for s in walk(core.body) if isinstance(s, ast.For)}
    out = {}

    def visit(stmts):
        candidates = {}      # name -> index of its assignment in stmts
        for k, stmt in enumerate(stmts):
            if isinstance(stmt, ast.Assign) and len(targets(stmt)) == 1:
                t = targets(stmt)[0]
                if len(defs[t]) == 1 and t not in core.params and t not in loop_bound \
                        and not isinstance(types.env.get(t), K.Array) and _cheap(stmt) \
                        and t not in names(operands(stmt.value)) \
                        and not reads_outside(core.body, stmts[k + 1:], t, stmt):
                    candidates[t] = k
            if isinstance(stmt, (ast.If, ast.For, ast.While)):
                visit(stmt.body)
                visit(stmt.orelse)
        # the backward sweep tests a break-if's flag after undoing the whole rest of the block
        end = len(stmts) - 1
        direct = {t: max([end if is_breakif(stmts[k]) else k for k in range(candidates[t] + 1, len(stmts))
                          if t in read_names(stmts[k:k + 1])], default=candidates[t])
                  for t in candidates}
        accepted = dict(candidates)
        while True:
            last = dict(direct)
            changed = True
            while changed:       # a value recomputed at a later use keeps its operands in use
                changed = False
                for t, k in accepted.items():
                    for m in names(operands(stmts[k].value)):
                        if m in accepted and last[m] < last[t]:
                            last[m] = last[t]
                            changed = True
            def unstable(t, until):
                k = accepted[t]
                return set(names(operands(stmts[k].value))) & assigned_names(stmts[k + 1:until + 1])
            failing = {t for t in accepted if unstable(t, last[t])}
            if not failing:
                break
            # drop first what fails on its own uses; the rest may pass once those are gone
            hopeless = {t for t in failing if unstable(t, direct[t])} or failing
            accepted = {t: k for t, k in accepted.items() if t not in hopeless}
        out.update((t, stmts[k]) for t, k in accepted.items())
    visit(core.body)
    return out


def _cheap(stmt):
    kind = op_kind(stmt.value)
    if kind == "rule":
        return stmt.value.sd_rule.name in CHEAP_RULES
    if kind == "read":
        # an element of an array written elsewhere too: the writes after it are undone by then
        return True
    return kind in ("copy", "shape", "len", "attr")


def reads_outside(body, region, name, def_stmt):
    """Whether ``name`` is read anywhere but in ``region`` (the statements after its def)."""
    inside = {id(s) for s in walk(region)}
    for stmt in walk(body):
        if id(stmt) in inside or stmt is def_stmt:
            continue
        for node in _own_expressions(stmt):
            if any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(node)):
                return True
    return False


def _own_expressions(stmt):
    """The expressions of a statement, not those of the statements nested in it."""
    if isinstance(stmt, ast.Assign):
        return [stmt.value] + ([stmt.targets[0].slice] if isinstance(stmt.targets[0], ast.Subscript) else [])
    if isinstance(stmt, ast.If):
        return [stmt.test]
    if isinstance(stmt, ast.For):
        return [stmt.iter]
    if isinstance(stmt, ast.Return):
        return [stmt.value]
    return []


def plan(core, types, active, restored=()):
    """Decide, for a reverse sweep over ``core``, which variables are taped or recomputed;
    the backward sweep gives the arrays ``restored`` back with the elements they came with."""
    result = Plan(active=set(active))
    groups = result.groups = alias_groups(core, types)
    result.recompute = _recomputable(core, types)
    multiple = multiply_assigned(core)
    order = _execution_order(core)
    while True:
        sites = _read_sites(core, result, types, adjoint_reads)
        value_sites = _read_sites(core, result, types, value_reads)
        needed = set().union(*(r for _, r in sites))
        candidates = {n for n in needed if n in multiple and n not in result.recompute}
        write_pushes = _write_push_sites(core, value_sites, groups, order, types, restored)
        pushes = _push_sites(core, sites, candidates) | write_pushes
        taped = {var for _, var in pushes}
        if needed == result.needed and pushes == result.pushes:
            break
        result.needed, result.taped, result.pushes = needed, taped, pushes
    result.values_read = _values_read(_push_sites(core, value_sites, candidates) | write_pushes, groups)
    _, result.defined_first = _first_definitions(core)
    result.saved_loop_vars = _loop_vars_read_outside(core, result, types)
    result.needed |= result.saved_loop_vars
    return result


def _values_read(value_pushes, groups):
    """Names whose old values the backward sweep reads, or whose overwritten elements it
    restores, with every name that may share their elements."""
    out = {var for _, var in value_pushes}
    return out.union(*(groups.get(n, ()) for n in out))


def _execution_order(core):
    """For each statement: its position in program order and the loops around it."""
    position, loops = {}, {}

    def visit(stmts, around):
        for stmt in stmts:
            position[id(stmt)] = len(position)
            loops[id(stmt)] = around
            if isinstance(stmt, ast.If):
                visit(stmt.body, around)
                visit(stmt.orelse, around)
            elif isinstance(stmt, (ast.For, ast.While)):
                visit(stmt.body, around | {id(stmt)})
    visit(core.body, frozenset())
    return position, loops


def _push_sites(core, sites, candidates):
    """(statement id, name) pairs where the old value of ``name`` must be saved.

    The backward sweep undoes an assignment by popping the value it
    overwrote; that value is needed only if a backward read uses it, that is
    a read since the name's previous assignment (in execution order, loops
    going round).  A forward pass carries the set of names read since they
    were last assigned; an assignment to a name in it saves the old value.
    A statement's backward read of a name it assigns uses the new value (the
    next assignment must save it), or the old one where it is an operand.
    """
    reads = {id(stmt): r & candidates for stmt, r in sites}
    out = set()

    def assignment(stmt, pending):
        bound = [t for t in targets(stmt) if t in candidates]
        read = reads.get(id(stmt), set())
        operands_ = set(names(operands(stmt.value)))
        for var in bound:
            if var in pending or (var in read and var in operands_):
                out.add((id(stmt), var))
        return (pending | (read - set(bound))) - set(bound) | (read & set(bound))

    def loop(stmt, pending):
        counter = [stmt.sd_counter] if stmt.sd_counter in candidates else []
        for var in counter:
            if var in pending:
                out.add((id(stmt), var))
        pending = pending - set(counter)
        entry, seen = set(pending), set()
        while True:
            after, states = block(stmt.body, entry)
            seen |= states
            if after <= entry:
                break
            entry |= after
        # it ends where an iteration does (entry holds those states), or at a break-if
        return entry | (seen if _leaves_early(stmt.body) else set()) | reads.get(id(stmt), set())

    def block(stmts, pending):
        states = set()
        for stmt in stmts:
            if isinstance(stmt, ast.Assign):
                pending = assignment(stmt, pending)
            elif isinstance(stmt, ast.If):
                pending = pending | reads.get(id(stmt), set())
                if not is_breakif(stmt):
                    body, s1 = block(stmt.body, pending)
                    orelse, s2 = block(stmt.orelse, pending)
                    pending = body | orelse
                    states |= s1 | s2
            elif isinstance(stmt, (ast.For, ast.While)):
                pending = loop(stmt, pending)
            states |= pending
        return pending, states

    block(core.body, set())
    return out


def _leaves_early(body):
    """Whether a loop body has a break-if of its own (not one of a loop nested in it)."""
    return any(is_breakif(s) or isinstance(s, ast.If) and (_leaves_early(s.body) or _leaves_early(s.orelse))
               for s in body)


def _first_definitions(core):
    """Top-level assignments that bind a name for the first time: nothing to save before them."""
    seen = set(core.params)
    first, names_ = set(), set()
    for stmt in core.body:
        if isinstance(stmt, ast.Assign) and len(targets(stmt)) == 1 and targets(stmt)[0] not in seen:
            first.add(id(stmt))
            names_.add(targets(stmt)[0])
        seen |= assigned_names([stmt])
    return first, names_


def alias_groups(core, types):
    """Array name -> the names that may share its elements (views of one another, copies)."""
    groups = {}
    for stmt in walk(core.body):
        if isinstance(stmt, ast.Assign) and aliases(stmt, types):
            base = operands(stmt.value)[0]
            if isinstance(base, ast.Name):
                merged = groups.get(base.id, {base.id}) | groups.get(targets(stmt)[0], {targets(stmt)[0]})
                for n in merged:
                    groups[n] = merged
    return groups


def strided_names(core, types):
    """Array names that may be bound to arrays Numba does not type as C-contiguous:
    array parameters, views such as ``a[:, j]``, ``a[::2]`` and ``a.T``, results of
    helpers, and whatever is computed from such names (``u * c`` of a Fortran-ordered
    ``u`` is Fortran-ordered).  A list saving such a name's arrays must be typed for any
    layout; the others keep the C layout that lets Numba vectorise their loops."""
    found = {p for p in core.params if isinstance(types.env.get(p), K.Array)}
    binders = [s for s in walk(core.body) if isinstance(s, ast.Assign) and not is_write(s)
               and any(isinstance(types.env.get(t), K.Array) for t in targets(s))]
    while True:
        more = {t for s in binders if _may_be_strided(s.value, found, types)
                for t in targets(s) if t not in found and isinstance(types.env.get(t), K.Array)}
        if not more:
            return found
        found |= more


def _may_be_strided(expr, strided, types):
    kind = op_kind(expr)
    if kind in ("call", "custom"):
        return True
    if kind == "array" and expr.sd_array.name == "copy":
        return False                       # a copy is C-contiguous whatever it copies
    if any(isinstance(a, ast.Name) and a.id in strided for a in operands(expr)):
        return True
    if kind == "array":
        return expr.sd_array.alias and expr.sd_array.name != "reshape"
    return kind == "read" and not _keeps_c_layout(expr.slice, types)


def _keeps_c_layout(index, types):
    """Whether Numba types ``a[index]`` of a C-contiguous ``a`` as C-contiguous:
    integers, then at most one slice without a step (or an integer-array gather)."""
    parts = index.elts if isinstance(index, ast.Tuple) else [index]
    if any(isinstance(p, ast.Name) and isinstance(types.env.get(p.id), K.Array) for p in parts):
        return True                        # a gather makes a new array
    if not parts or any(isinstance(p, ast.Constant) and p.value in (None, Ellipsis) for p in parts):
        return False
    last = parts[-1]
    return all(not isinstance(p, ast.Slice) for p in parts[:-1]) and (
        not isinstance(last, ast.Slice) or last.step is None)


def refuse_writes_after_ravel(core, types):
    """``np.ravel`` returns a view of a contiguous array and a copy of any other;
    derivative code cannot follow both where either side is written after it."""
    groups, (position, loops) = alias_groups(core, types), _execution_order(core)
    for ravel in walk(core.body):
        if not (isinstance(ravel, ast.Assign) and op_kind(ravel.value) == "array"
                and ravel.value.sd_array.name == "ravel" and isinstance(ravel.value.sd_args[0], ast.Name)):
            continue
        base, result = ravel.value.sd_args[0].id, targets(ravel)[0]
        sharing = groups.get(base, {base}) | groups.get(result, {result})
        for write in walk(core.body):
            if is_write(write) and write.targets[0].value.id in sharing and (
                    position[id(write)] > position[id(ravel)] or loops[id(write)] & loops[id(ravel)]):
                raise error_at(write, core.source,
                               f"this writes into an array that may share memory with np.ravel({base}) "
                               f"(line {ravel.lineno}): np.ravel returns a view of a contiguous array and "
                               "a copy of any other, and derivatives cannot follow both; use "
                               f"np.ravel({base}).copy(), or write before taking np.ravel")


def _write_push_sites(core, value_sites, groups, order, types, restored):
    """(write statement id, array) pairs: the elements a write overwrites are needed later.

    As for names, a write destroys what the backward sweep reads only if that
    read comes first in execution order; a read of any view of the array counts.
    The end of the backward sweep reads the arrays ``restored``.
    """
    position, loops = order
    out = set()
    for stmt in walk(core.body):
        if not is_write(stmt):
            continue
        array = stmt.targets[0].value.id
        sharing, around = groups.get(array, {array}), frozenset()
        fresh = _fresh_allocation(core.body, stmt, types)
        if fresh is not None:
            allocation, region = fresh
            inside = {id(s) for s in walk([allocation] + region)}     # its adjoint may read what it made
            sharing, around = _names_of_new_array(region, array, types), loops[id(allocation)]
        elif sharing & set(restored):
            out.add((id(stmt), array))
            continue
        for reader, reads in value_sites:
            if reads & sharing and reader is not stmt and (fresh is None or id(reader) in inside) and (
                    position[id(reader)] < position[id(stmt)] or (loops[id(reader)] & loops[id(stmt)]) - around):
                out.add((id(stmt), array))
                break
    return out


def _fresh_allocation(body, write, types):
    """(allocation, region) where the written array is new: ``a = <new array>`` earlier in a
    block that holds the write (nested or not), ``a`` not rebound from there to the write.

    The write then changes only that array, which no statement before the allocation
    (or in an earlier iteration) can have read; the region is what runs in between.
    The allocation's own adjoint may read the new array (``ans`` of a division).
    """
    array = write.targets[0].value.id
    for stmts, k in reversed(_path(body, write)):
        for j in range(k - 1, -1, -1):
            if array in _rebound([stmts[j]]):
                region = stmts[j + 1:k + 1]
                if _allocates(stmts[j], array, types) and array not in _rebound(region):
                    return stmts[j], region
                return None
    return None


def _path(stmts, stmt):
    """(block, index) pairs from the function body down to ``stmt``."""
    for k, s in enumerate(stmts):
        if s is stmt:
            return [(stmts, k)]
        if isinstance(s, (ast.If, ast.For, ast.While)):
            for block in (s.body, s.orelse):
                inner = _path(block, stmt)
                if inner:
                    return [(stmts, k)] + inner
    return []


def _rebound(stmts):
    out = {t for s in walk(stmts) if isinstance(s, ast.Assign) for t in targets(s)}
    return out | {s.target.id for s in walk(stmts) if isinstance(s, ast.For)}


def _allocates(stmt, array, types):
    """Whether ``stmt`` binds ``array`` to an array no other name shares."""
    if not (isinstance(stmt, ast.Assign) and targets(stmt) == [array] and isinstance(types.env.get(array), K.Array)):
        return False
    kind = op_kind(stmt.value)
    if kind == "array":
        return not stmt.value.sd_array.alias
    if kind == "rule":           # elementwise on arrays: a new array, but the identity returns its operand
        return stmt.value.sd_rule.name not in ("stop_gradient", "pos")
    return kind == "reserve"


def _names_of_new_array(region, array, types):
    """``array`` and the names the region may bind to it (views, copies, results of calls)."""
    found = {array}
    changed = True
    while changed:
        changed = False
        for stmt in walk(region):
            if isinstance(stmt, ast.Assign) and not is_write(stmt) and not _allocates(stmt, targets(stmt)[0], types):
                bound = set(targets(stmt)) - found
                if bound and found & set(names(operands(stmt.value))):
                    found |= bound
                    changed = True
    return found


def _read_sites(core, plan, types, reads_of):
    """(statement, names) for every backward read: direct, or to recompute a value it reads."""
    sites = []

    def has_work(stmts):
        return any(_work(s) for s in stmts)

    def _work(stmt):
        if isinstance(stmt, ast.Assign):
            return bool(set(targets(stmt)) & plan.active) or any(
                (id(stmt), t) in plan.pushes for t in targets(stmt) + _written(stmt)) or (
                isinstance(stmt.targets[0], ast.Subscript) and stmt.targets[0].value.id in plan.active)
        if isinstance(stmt, ast.If):
            return has_work(stmt.body) or has_work(stmt.orelse)
        if isinstance(stmt, (ast.For, ast.While)):
            return has_work(stmt.body) or (id(stmt), stmt.sd_counter) in plan.pushes
        return False

    def visit(stmts, loop=None):
        for k, stmt in enumerate(stmts):
            if isinstance(stmt, ast.Assign):
                sites.append((stmt, reads_of(stmt, plan, types) or set()))
            elif isinstance(stmt, ast.If):
                if is_breakif(stmt):
                    # a simple while's backward sweep counts iterations instead of reading its test
                    counted = stmt.sd_while_cond and simple_while(loop)
                    if not counted and has_work(stmts[k + 1:]):
                        sites.append((stmt, {stmt.test.id}))
                    continue
                if _work(stmt) and isinstance(stmt.test, ast.Name):
                    sites.append((stmt, {stmt.test.id}))
                visit(stmt.body, loop)
                visit(stmt.orelse, loop)
            elif isinstance(stmt, (ast.For, ast.While)):
                if has_work(stmt.body):
                    reads = loop_reads(stmt)
                    if isinstance(stmt, ast.While) and not simple_while(stmt):
                        reads |= {s.test.id for s in stmt.body if is_breakif(s)}
                    sites.append((stmt, reads))
                visit(stmt.body, stmt)
    visit(core.body)
    return [(stmt, _with_recomputation(reads, plan, reads_of is value_reads)) for stmt, reads in sites]


def _with_recomputation(reads, plan, values_only=False):
    """``reads`` and what recomputing them reads (an array's shape is not its values)."""
    reads = set(reads)
    frontier = list(reads)
    while frontier:
        n = frontier.pop()
        if n in plan.recompute:
            expr = plan.recompute[n].value
            if values_only and op_kind(expr) in ("shape", "len", "attr"):
                continue
            for m in names(operands(expr)):
                if m not in reads:
                    reads.add(m)
                    frontier.append(m)
    return reads


def simple_while(stmt):
    """A while loop left only through its condition, tested at the top of its body."""
    breaks = [s for s in stmt.body if is_breakif(s)]
    return len(breaks) == 1 and breaks[0].sd_while_cond


def _loop_vars_read_outside(core, plan, types):
    """Loop variables the backward sweep reads outside their own loops."""
    out = set()

    def visit(stmts, bound):
        for stmt in stmts:
            if isinstance(stmt, ast.Assign):
                out.update(n for n in adjoint_reads(stmt, plan, types) if n in loop_vars and n not in bound)
            elif isinstance(stmt, ast.If):
                visit(stmt.body, bound)
                visit(stmt.orelse, bound)
            elif isinstance(stmt, ast.For):
                visit(stmt.body, bound | {stmt.target.id})
            elif isinstance(stmt, ast.While):
                visit(stmt.body, bound)
    loop_vars = {s.target.id for s in walk(core.body) if isinstance(s, ast.For)}
    visit(core.body, frozenset())
    return out
