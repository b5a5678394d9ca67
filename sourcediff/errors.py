"""TransformError: a user's code that sourcediff cannot transform, and where."""
import linecache


class TransformError(TypeError):
    """Raised for code sourcediff cannot differentiate or compile.

    The message names the user's file, line and source text, and says what is
    supported instead.  ``filename``, ``lineno`` and ``code`` carry the same
    facts for programs.
    """

    def __init__(self, message, filename=None, lineno=None, code=None):
        self.filename, self.lineno, self.code = filename, lineno, code
        self.reason = message
        where = ""
        if filename is not None:
            where = f'File "{filename}", line {lineno}\n'
            if code:
                where += f"    {code}\n"
        super().__init__(where + message)


def source_line(filename, lineno):
    return linecache.getline(filename, lineno).strip() if lineno else ""


def error_at(node, source, message):
    """A TransformError pointing at ``node`` of the parsed function ``source``."""
    lineno = getattr(node, "lineno", None) or source.node.lineno
    return TransformError(message, source.filename, lineno, source_line(source.filename, lineno))


class ReverseThroughArrays(TransformError):
    """Reverse mode met an array that carries derivatives (e.g. the tape of inner reverse code)."""
