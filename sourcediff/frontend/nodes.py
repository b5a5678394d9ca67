"""Building core nodes: names, assignments, templates instantiated on atoms."""
import ast
import copy


def name(id_, ctx=None):
    return ast.Name(id=id_, ctx=ctx or ast.Load())


def assign(target, value, like=None):
    node = ast.Assign(targets=[name(target, ast.Store()) if isinstance(target, str) else target],
                      value=value)
    if like is not None:
        ast.copy_location(node, like)
    return node


_TEMPLATES = {}


def instantiate(template, mapping):
    """The expression ``template`` with its names replaced by ``mapping``'s nodes."""
    if template not in _TEMPLATES:
        _TEMPLATES[template] = ast.parse(template, mode="eval").body
    return substituted(_TEMPLATES[template], mapping)


def substituted(expr, mapping):
    """A copy of the expression ``expr`` with its names replaced by ``mapping``'s nodes."""
    class Sub(ast.NodeTransformer):
        def visit_Name(self, n):
            if n.id in mapping:
                return copy.deepcopy(mapping[n.id])
            return n
    return Sub().visit(copy.deepcopy(expr))
