"""From derivative core to readable source: simplification, folding, naming, modules."""
import ast
import copy
import math
from collections import Counter



def const(value):
    """A constant node that prints back as the same number (negatives as unary minus)."""
    if isinstance(value, float) and math.isinf(value):
        node = ast.Attribute(value=ast.Name("math", ast.Load()), attr="inf", ctx=ast.Load())
        return ast.UnaryOp(ast.USub(), node) if value < 0 else node
    if isinstance(value, float) and math.isnan(value):
        return ast.Attribute(value=ast.Name("math", ast.Load()), attr="nan", ctx=ast.Load())
    if not isinstance(value, bool) and value < 0:
        return ast.UnaryOp(ast.USub(), ast.Constant(-value))
    return ast.Constant(value)


def number(node):
    """The numeric value of a constant node (negative ones included), else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
            and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = number(node.operand)
        return None if inner is None else -inner
    return None


class Simplify(ast.NodeTransformer):
    """Arithmetic with 0 and 1 and constant folding, so derivative code stays short."""

    def visit_BinOp(self, node):
        self.generic_visit(node)
        a, b = number(node.left), number(node.right)
        op = type(node.op)
        if a is not None and b is not None and op in (ast.Add, ast.Sub, ast.Mult):
            return const({ast.Add: a + b, ast.Sub: a - b, ast.Mult: a * b}[op])
        if op is ast.Mult:
            if a == 1:
                return node.right
            if b == 1:
                return node.left
            if a == -1:
                return self.visit(ast.UnaryOp(ast.USub(), node.right))
            if b == -1:
                return self.visit(ast.UnaryOp(ast.USub(), node.left))
            if isinstance(node.right, ast.UnaryOp) and isinstance(node.right.op, ast.USub):
                return self.visit(ast.UnaryOp(ast.USub(), ast.BinOp(node.left, ast.Mult(), node.right.operand)))
        if op is ast.Add:
            if a == 0:
                return node.right
            if b == 0:
                return node.left
            if isinstance(node.right, ast.UnaryOp) and isinstance(node.right.op, ast.USub):
                return ast.BinOp(node.left, ast.Sub(), node.right.operand)
        if op is ast.Sub and b == 0:
            return node.left
        if op is ast.Pow and b == 1:
            return node.left
        if op is ast.Div and b == 1:
            return node.left
        return node

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.USub):
            inner = node.operand
            if isinstance(inner, ast.UnaryOp) and isinstance(inner.op, ast.USub):
                return inner.operand
            value = number(inner)
            if value is not None:
                return const(-value)
        return node


def simplify(expr):
    return Simplify().visit(expr)


def add_all(terms):
    """The sum of expression ``terms``, or 0.0 for none."""
    if not terms:
        return ast.Constant(0.0)
    total = terms[0]
    for term in terms[1:]:
        total = ast.BinOp(total, ast.Add(), term)
    return simplify(total)


class Naming:
    """Derivative names next to the user's: x -> x_dot, x_bar; never a collision."""

    def __init__(self, taken):
        self.taken = set(taken)
        self.map = {}

    def derived(self, name, suffix):
        key = (name, suffix)
        if key not in self.map:
            candidate = f"{name}_{suffix}"
            while candidate in self.taken:
                candidate += "_"
            self.taken.add(candidate)
            self.map[key] = candidate
        return self.map[key]

    def unique(self, stem):
        candidate = stem
        while candidate in self.taken:
            candidate += "_"
        self.taken.add(candidate)
        return candidate

    def derived_from(self, names):
        return [v for (n, _), v in self.map.items() if n in names]

    def fresh(self, stem):
        i = 1
        while f"{stem}{i}" in self.taken:
            i += 1
        self.taken.add(f"{stem}{i}")
        return f"{stem}{i}"


# ---------------------------------------------------------------- folding

def names_in(node):
    """Every name in ``node``, read or bound."""
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _bound_in(stmt):
    """Names a statement (and those nested in it) may rebind, arrays written included."""
    out = set()
    for node in ast.walk(stmt):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            out.add(node.id)
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store):
            out.update(names_in(node.value))
    return out


def _count_uses(fn):
    uses, defs = {}, {}
    for node in ast.walk(fn):
        if isinstance(node, ast.Name):
            table = defs if isinstance(node.ctx, ast.Store) else uses
            table[node.id] = table.get(node.id, 0) + 1
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            uses[node.target.id] = uses.get(node.target.id, 0) + 1
    return uses, defs


def _head_expressions(stmt):
    """Expressions evaluated once, before anything else, when ``stmt`` runs."""
    if isinstance(stmt, (ast.Assign, ast.AugAssign)):
        return [stmt.value]
    if isinstance(stmt, ast.If):
        return [stmt.test]
    if isinstance(stmt, ast.Return):
        return [stmt.value] if stmt.value else []
    if isinstance(stmt, ast.For):
        return [stmt.iter]
    return []


def fold(fn, foldable):
    """Inline temporaries used once into their use, and merge ``v = 0.0; v += e``.

    ``foldable(name)`` says which names are temporaries that may disappear.
    """
    changed = True
    while changed:
        uses, defs = _count_uses(fn)
        single = _single_use_definitions(fn, uses, foldable)
        changed = _fold_block(fn.body, uses, defs, foldable, single)
        changed |= _merge_zero_init(fn)
    return fn


def _single_use_definitions(fn, uses, foldable):
    """Ids of assignments to a temporary whose value is read exactly once, in the same block.

    A temporary may be assigned again (the backward sweep recomputes some);
    each assignment's value is read up to the next one.  Only where every
    read of the temporary is accounted for so is the count trusted.
    """
    counts, accounted = {}, {}
    facts = {}          # statement id -> (names it loads, with counts; names it binds)

    def fact(stmt):
        if id(stmt) not in facts:
            loads = Counter(n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load))
            facts[id(stmt)] = (loads, _bound_in(stmt))
        return facts[id(stmt)]

    for block in blocks(fn):
        for k, stmt in enumerate(block):
            if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                    and isinstance(stmt.targets[0], ast.Name) and foldable(stmt.targets[0].id)):
                continue
            temp, count = stmt.targets[0].id, 0
            for later in block[k + 1:]:
                loads, binds = fact(later)
                if temp in binds:
                    if isinstance(later, (ast.Assign, ast.AugAssign)):
                        count += _reads_of(later.value, temp)
                    break
                count += loads[temp]
            counts[id(stmt)] = count
            accounted[temp] = accounted.get(temp, 0) + count
    trusted = {t for t, n in accounted.items() if n == uses.get(t, 0)}
    return {key for key, n in counts.items() if n == 1} & \
        {id(s) for b in blocks(fn) for s in b if isinstance(s, ast.Assign) and len(s.targets) == 1
         and isinstance(s.targets[0], ast.Name) and s.targets[0].id in trusted}


def _reads_of(node, name):
    return sum(1 for n in ast.walk(node) if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load))


def _propagate_copy(stmts, k, uses):
    """Replace the temporary of ``T = Y`` (at ``stmts[k]``) by Y in its uses, if Y holds till then."""
    temp, source = stmts[k].targets[0].id, stmts[k].value.id
    found, plan = 0, []
    for later in stmts[k + 1:]:
        if found == uses:
            break
        here = sum(1 for n in ast.walk(later) if isinstance(n, ast.Name) and n.id == temp)
        rebinds = source in _bound_in(later) or temp in _bound_in(later)
        if here:
            in_head = sum(1 for h in _head_expressions(later) for n in ast.walk(h)
                          if isinstance(n, ast.Name) and n.id == temp)
            if rebinds and in_head != here:
                return False
            plan.append(later)
            found += here
        if rebinds:
            break
    if found != uses:
        return False
    for later in plan:
        _substitute(later, temp, ast.Name(source, ast.Load()))
    del stmts[k]
    return True


def _substitute(stmt, name, value):
    class Sub(ast.NodeTransformer):
        def visit_Name(self, n):
            return copy.deepcopy(value) if n.id == name and isinstance(n.ctx, ast.Load) else n
    Sub().visit(stmt)


def _fold_block(stmts, uses, defs, foldable, single):
    changed = False
    k = 0
    while k < len(stmts):
        stmt = stmts[k]
        for child in ("body", "orelse"):
            if isinstance(stmt, (ast.If, ast.For, ast.While)):
                changed |= _fold_block(getattr(stmt, child), uses, defs, foldable, single)
        if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.value, ast.Name)
                and isinstance(stmt.targets[0], ast.Name) and foldable(stmt.targets[0].id)
                and defs.get(stmt.targets[0].id) == 1 and uses.get(stmt.targets[0].id, 0) > 1):
            if _propagate_copy(stmts, k, uses[stmt.targets[0].id]):
                changed = True
                continue
        if id(stmt) in single:
            name = stmt.targets[0].id
            reads = names_in(stmt.value)
            for j in range(k + 1, len(stmts)):
                later = stmts[j]
                heads = _head_expressions(later)
                if any(name in names_in(h) for h in heads):
                    if isinstance(later, ast.AugAssign) and isinstance(later.target, ast.Name) \
                            and later.target.id in reads:
                        break
                    _replace(later, heads, name, stmt.value)
                    del stmts[k]
                    changed = True
                    k -= 1
                    break
                if name in names_in(later) or reads & _bound_in(later):
                    break
        k += 1
    return changed


def _replace(stmt, heads, name, value):
    class Sub(ast.NodeTransformer):
        def visit_Name(self, n):
            return copy.deepcopy(value) if n.id == name and isinstance(n.ctx, ast.Load) else n
    for head in heads:
        new = simplify(Sub().visit(copy.deepcopy(head)))
        if isinstance(stmt, (ast.Assign, ast.AugAssign, ast.Return)):
            stmt.value = new
        elif isinstance(stmt, ast.If):
            stmt.test = new
        elif isinstance(stmt, ast.For):
            stmt.iter = new


def _merge_zero_init(fn):
    """``v = 0.0`` followed, with no other use of v between, by ``v += e``: ``v = e``."""
    changed = False
    for block in blocks(fn):
        k = 0
        while k < len(block):
            s = block[k]
            if isinstance(s, ast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], ast.Name) \
                    and number(s.value) == 0:
                name = s.targets[0].id
                for j in range(k + 1, len(block)):
                    later = block[j]
                    if isinstance(later, ast.AugAssign) and isinstance(later.target, ast.Name) \
                            and later.target.id == name and isinstance(later.op, (ast.Add, ast.Sub)) \
                            and name not in names_in(later.value):
                        value = later.value if isinstance(later.op, ast.Add) else \
                            simplify(ast.UnaryOp(ast.USub(), later.value))
                        block[j] = ast.copy_location(
                            ast.Assign(targets=[ast.Name(name, ast.Store())], value=value), later)
                        del block[k]
                        changed = True
                        k -= 1
                        break
                    if name in names_in(later):
                        break
            k += 1
    return changed


def blocks(fn):
    """Every statement list of ``fn``: its body and those of its branches and loops."""
    yield fn.body
    for node in ast.walk(fn):
        if isinstance(node, (ast.If, ast.For, ast.While)) and node is not fn:
            yield node.body
            if node.orelse:
                yield node.orelse


def tidy(fn):
    """``x += -e`` as ``x -= e``; drop ``pass`` where a block has other statements.

    A negative constant becomes a negation, which ``ast.unparse`` parenthesises
    where needed (it prints ``Constant(-0.75) ** 2`` as ``-0.75 ** 2``).
    """
    _NegativeConstants().visit(fn)
    for block in blocks(fn):
        for k, s in enumerate(block):
            if isinstance(s, ast.AugAssign) and isinstance(s.op, ast.Add) and \
                    isinstance(s.value, ast.UnaryOp) and isinstance(s.value.op, ast.USub):
                block[k] = ast.copy_location(ast.AugAssign(s.target, ast.Sub(), s.value.operand), s)
        block[:] = [s for s in block if not _self_assignment(s)] or [ast.Pass()]
        if len(block) > 1:
            block[:] = [s for s in block if not isinstance(s, ast.Pass)]
    return fn


class _NegativeConstants(ast.NodeTransformer):
    def visit_Constant(self, node):
        v = node.value
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.copysign(1.0, v) < 0:
            return ast.UnaryOp(op=ast.USub(), operand=ast.Constant(-v))
        return node


def _self_assignment(stmt):
    return isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name) \
        and isinstance(stmt.value, ast.Name) and stmt.value.id == stmt.targets[0].id
