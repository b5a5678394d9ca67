"""Gradient clipping in the backward pass with custom_vjp (JAX's seed example, sampled instead of plotted)."""
import math

import sourcediff as sd


@sd.custom_vjp
def clip_gradient(lo, hi, x):
    return x  # identity function


def clip_gradient_fwd(lo, hi, x):
    return x, (lo, hi)  # save bounds as residuals


def clip_gradient_bwd(res, g):
    lo, hi = res
    return (None, None, min(max(g, lo), hi))  # None: zero cotangents for lo and hi


clip_gradient.defvjp(clip_gradient_fwd, clip_gradient_bwd)


def clip_sin(x):
    x = clip_gradient(-0.75, 0.75, x)
    return math.sin(x)


if __name__ == "__main__":
    grad_sin = sd.grad(math.sin) if False else sd.grad(lambda x: math.sin(x))
    grad_clip = sd.grad(clip_sin)
    for t in (0.0, 1.0, 2.0, 3.0, 5.0):
        print(f"t = {t}: sin {math.sin(t):+.6f}  grad sin {grad_sin(t):+.6f}  "
              f"grad clip_sin {grad_clip(t):+.6f}")
