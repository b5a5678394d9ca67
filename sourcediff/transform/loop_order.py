"""Backward loops whose iterations are independent run forwards.

The backward sweep visits a loop's iterations last to first.  Where no iteration reads
what another writes, the order is free, and a loop counting up streams through memory
the way caches prefetch and compilers vectorise (GradBench gmm: its innermost backward
loop 9% faster).  Iterations are independent when each

* sets the scalars it assigns before reading them, and nothing reads them after the loop;
* adds into scalars and arrays it does not read (a sum then rounds in another order);
* reads and writes an array only at one index naming the loop variable, and writes into
  no array that could share elements with one it reads: adjoints share elements only with
  adjoints, primal arrays with primal arrays, and a new array with none;
* calls nothing that writes (a helper's VJP), and moves no tape pointer.
"""
import ast
import copy

from ..analysis.dataflow import index_length, is_element_index
from ..codegen import number, simplify
from ..dead_code import SHAPE_ONLY_CALLS, assigned_values, new_value, np_function, pure
from ..frontend.normalize import name

PURE_RUNTIME = {"indicator", "safe_log", "pos_inv", "trip_count"}


def run_forwards(fn, ndims, adjoints, distinct, pointers):
    """Turn each marked backward ``for v in range(a, b, -1)`` of ``fn`` whose iterations are
    independent into ``for v in range(b + 1, a + 1)``.  ``ndims`` gives the arrays' numbers
    of dimensions, ``adjoints`` names the adjoint arrays, ``distinct`` the
    arrays that share elements with no other (tapes, a consumed adjoint), ``pointers`` the
    tape positions: a loop popping one value an iteration moves its position once, before."""
    params = {a.arg for a in fn.args.args}
    new = {n for n, values in assigned_values(fn).items() if n not in params and
           all(v is not None and (new_value(v) or isinstance(v, ast.Name) and v.id in distinct)
               for v in values)}
    new = new - _shared(fn, ndims) | set(distinct)
    arrays = set(ndims) | {n.value.id for n in ast.walk(fn)
                            if isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name)}

    def apart(x, y):
        return y not in arrays or x in new or y in new or (x in adjoints) != (y in adjoints)
    _visit(fn.body, [], apart, set(pointers))


def _shared(fn, ndims):
    """Names whose elements another name may come to see: read other than element by element,
    for their shape, as the argument of a call whose result is dropped, or when returned."""
    parents = {id(c): n for n in ast.walk(fn) for c in ast.iter_child_nodes(n)}
    out = set()
    for n in ast.walk(fn):
        if not (isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)):
            continue
        parent = parents.get(id(n))
        if isinstance(parent, ast.Subscript) and parent.value is n:
            if index_length(parent.slice) == ndims.get(n.id) and is_element_index(parent.slice) or \
                    isinstance(parents.get(id(parent)), (ast.BinOp, ast.UnaryOp, ast.Compare)):
                continue                    # an element, or a view only computed with
        elif isinstance(parent, ast.Attribute) and parent.attr in ("shape", "size", "ndim"):
            continue
        elif isinstance(parent, ast.Call) and n in parent.args and isinstance(parents.get(id(parent)), ast.Expr):
            continue
        elif isinstance(parent, ast.Call) and np_function(parent.func) in SHAPE_ONLY_CALLS:
            continue
        elif isinstance(parent, ast.Return) or isinstance(parent, ast.Tuple) and \
                isinstance(parents.get(id(parent)), ast.Return):
            continue
        out.add(n.id)
    return out


def _visit(block, after, apart, pointers):
    """Each loop in ``block``; ``after`` lists the statement sequences that may run after it."""
    out = []
    for k, stmt in enumerate(block):
        rest = [block[k + 1:]] + after
        if isinstance(stmt, (ast.For, ast.While)):
            _visit(stmt.body, [stmt.body] + rest, apart, pointers)
            if getattr(stmt, "sd_backward", False):
                pops = _pops(stmt, pointers)
                if pops is not None and _independent(stmt, rest, apart, pops):
                    out += _forwards(stmt, pops)
        elif isinstance(stmt, ast.If):
            _visit(stmt.body, rest, apart, pointers)
            _visit(stmt.orelse, rest, apart, pointers)
        out.append(stmt)
    block[:] = out


def _pops(loop, pointers):
    """{position: its ``p -= 1``} for the tapes the loop pops one value from an iteration,
    read only as ``tape[p]`` after that; None if the loop moves a position otherwise."""
    pops = {}
    for k, stmt in enumerate(loop.body):
        if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name) and \
                stmt.target.id in pointers and isinstance(stmt.op, ast.Sub) and number(stmt.value) == 1:
            if stmt.target.id in pops:
                return None
            pops[stmt.target.id] = k
    for p, k in pops.items():
        for j, stmt in enumerate(loop.body):
            if j == k:
                continue
            for n in ast.walk(stmt):
                if isinstance(n, ast.Name) and n.id == p and (isinstance(n.ctx, ast.Store) or j < k):
                    return None
            slices = [m.slice for m in ast.walk(stmt) if isinstance(m, ast.Subscript)]
            if sum(isinstance(n, ast.Name) and n.id == p for n in ast.walk(stmt)) != \
                    sum(isinstance(x, ast.Name) and x.id == p for x in slices):
                return None               # p read other than as a whole index
    return {p: loop.body[k] for p, k in pops.items()}


def _forwards(loop, pops):
    """Make ``loop`` count up; returns the statements that go before it."""
    last, end, _ = loop.iter.args
    first = _plus_one(end)
    stop = _plus_one(last)
    loop.iter.args = ([] if number(first) == 0 else [first]) + [stop]
    before = []
    if pops:
        count = iterations(first, stop)
        offset = counted_from_zero(loop.target.id, first)
        loop.body = [s for s in loop.body if not any(s is d for d in pops.values())]
        for n in (m for s in loop.body for m in ast.walk(s)):
            if isinstance(n, ast.Subscript) and isinstance(n.slice, ast.Name) and n.slice.id in pops:
                n.slice = ast.BinOp(name(n.slice.id), ast.Add(), copy.deepcopy(offset))
        before = [ast.AugAssign(target=name(p, ast.Store()), op=ast.Sub(), value=copy.deepcopy(count))
                  for p in pops]
    return before


def counted_from_zero(var, first):
    """The loop variable ``var`` of ``range(first, ...)`` as the iteration's number."""
    if number(first) == 0:
        return name(var)
    return simplify(ast.BinOp(name(var), ast.Sub(), copy.deepcopy(first)))


def iterations(first, stop):
    """The number of iterations of ``range(first, stop)``, as an expression."""
    count = simplify(ast.BinOp(copy.deepcopy(stop), ast.Sub(), copy.deepcopy(first)))
    if number(count) is not None:
        return ast.Constant(max(number(count), 0))
    if _is_extent(count):
        return count
    return ast.Call(func=name("max"), args=[count, ast.Constant(0)], keywords=[])


def _is_extent(e):
    """``a.shape[k]``: never negative."""
    return isinstance(e, ast.Subscript) and isinstance(e.value, ast.Attribute) and e.value.attr == "shape"


def _plus_one(e):
    if isinstance(e, ast.BinOp) and isinstance(e.op, ast.Sub) and number(e.right) == 1:
        return e.left
    return simplify(ast.BinOp(e, ast.Add(), ast.Constant(1)))


def _independent(loop, rest, apart, pops):
    if not (isinstance(loop, ast.For) and len(loop.iter.args) == 3 and number(loop.iter.args[2]) == -1
            and not loop.orelse):
        return False
    var = loop.target.id
    body = [s for s in loop.body if not any(s is d for d in pops.values())]
    nodes = [n for s in body for n in ast.walk(s)]
    if any(isinstance(n, (ast.While, ast.Break, ast.Continue, ast.Return, ast.Expr)) for n in nodes):
        return False
    if not all(pure(n) for n in nodes if isinstance(n, ast.Call) and not _runtime_pure(n)):
        return False
    assigned = {n.id for n in nodes if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    added = {n.target.id for n in nodes if isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name)}
    read = {n.id for n in nodes if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} - set(pops)
    set_here = assigned - added | {n.target.id for n in nodes if isinstance(n, ast.For)}
    set_here |= {t.id for n in nodes if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    if var in assigned:
        return False
    for n in assigned - set_here:          # only added into: a sum nothing in the loop reads
        if n in read:
            return False
    for n in set_here:
        if _first_use(body, n) == "read" or any(_first_use(seq, n) == "read" for seq in rest):
            return False
    return _arrays_independent(nodes, var, assigned, apart, set(pops))


def _arrays_independent(nodes, var, assigned, apart, positions):
    accesses, whole_reads, written, only_added = {}, set(), set(), {}
    parents = {id(c): n for n in nodes for c in ast.iter_child_nodes(n)}
    for n in nodes:
        if isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Store) and not isinstance(n.value, ast.Name):
            return False                        # a write into a view (a[i][j] = v)
        if isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name):
            x = n.value.id
            accesses.setdefault(x, []).append(n.slice)
            if isinstance(n.ctx, ast.Store):
                written.add(x)
                parent = parents.get(id(n))
                only_added[x] = only_added.get(x, True) and isinstance(parent, ast.AugAssign)
            else:
                only_added[x] = False
        elif isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
            parent = parents.get(id(n))
            if not (isinstance(parent, ast.Subscript) and parent.value is n or
                    isinstance(parent, ast.Attribute) and parent.attr in ("shape", "size", "ndim")):
                whole_reads.add(n.id)
    touched = {x for x, added in only_added.items() if not added} | whole_reads   # more than added into
    for x in written & touched:
        if x in whole_reads or not _own_element(accesses[x], var, assigned | positions):
            return False
    return all(apart(x, y) for x in written for y in touched if y != x)


def _own_element(slices, var, assigned):
    """Whether every access is at one index that has the loop variable as a component and
    otherwise only values the loop does not change."""
    first = ast.dump(slices[0])
    if any(ast.dump(s) != first for s in slices):
        return False
    parts = slices[0].elts if isinstance(slices[0], ast.Tuple) else [slices[0]]
    if not any(isinstance(p, ast.Name) and p.id == var for p in parts):
        return False
    return not {n.id for p in parts for n in ast.walk(p) if isinstance(n, ast.Name)} & assigned


def _runtime_pure(call):
    func = call.func
    return isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and \
        func.value.id == "_rt" and func.attr in PURE_RUNTIME and all(pure(a) for a in call.args)


def _first_use(stmts, n):
    """"read" where a run of ``stmts`` can read ``n`` before setting it, "set" where it sets
    it first on every path, else None."""
    for stmt in stmts:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name) \
                and stmt.targets[0].id == n:
            return "read" if _reads(stmt.value, n) else "set"
        if isinstance(stmt, ast.For):
            if _reads(stmt.iter, n) or (stmt.target.id != n and _first_use(stmt.body, n) == "read"):
                return "read"
        elif isinstance(stmt, ast.While):
            if _reads(stmt.test, n) or _first_use(stmt.body, n) == "read":
                return "read"
        elif isinstance(stmt, ast.If):
            if _reads(stmt.test, n):
                return "read"
            branches = _first_use(stmt.body, n), _first_use(stmt.orelse, n)
            if "read" in branches:
                return "read"
            if branches == ("set", "set"):
                return "set"
        elif _reads(stmt, n):
            return "read"
    return None


def _reads(node, n):
    return any(isinstance(m, ast.Name) and m.id == n and isinstance(m.ctx, ast.Load) for m in ast.walk(node)) \
        or any(isinstance(m, ast.AugAssign) and isinstance(m.target, ast.Name) and m.target.id == n
               for m in ast.walk(node))
