"""sourcediff: automatic differentiation of plain Python numeric code by source transformation."""
from .custom import custom_jvp, custom_vjp
from .api import grad, hessian, jacfwd, jacrev, jit, jvp, show, value_and_grad, vjp
from .errors import TransformError
from .rules.runtime import stop_gradient
from .vectorize import vectorize

__version__ = "0.1.0"
__all__ = ["grad", "value_and_grad", "jvp", "vjp", "jacfwd", "jacrev", "hessian", "jit",
           "show", "stop_gradient", "vectorize", "custom_jvp", "custom_vjp", "TransformError"]
