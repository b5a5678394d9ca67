"""A square root with a derivative of 0 at x = 0, by a custom JVP rule (seed 001)."""
import math

import sourcediff as sd


@sd.custom_jvp
def stable_sqrt(x):
    safe_x = 1.0 if x == 0.0 else x
    return math.sqrt(safe_x)


@stable_sqrt.defjvp
def stable_sqrt_jvp(primals, tangents):
    x, = primals
    t, = tangents
    primal_out = stable_sqrt(x)
    is_zero = x == 0.0
    safe_x = 1.0 if is_zero else x
    deriv = 0.5 / math.sqrt(safe_x)
    tangent_out = 0.0 if is_zero else deriv * t
    return primal_out, tangent_out


if __name__ == "__main__":
    for x in (0.0, 4.0):
        primal, tangent = sd.jvp(stable_sqrt, (x,), (1.0,))
        print(f"Input x: {x}")
        print("Input tangent t: 1.0")
        print(f"Primal output (stable_sqrt(x)): {primal}")
        print(f"Tangent output (derivative at x * t): {tangent}")
    print(f"grad at 0 and 4: {sd.grad(stable_sqrt)(0.0)} {sd.grad(stable_sqrt)(4.0)}")
