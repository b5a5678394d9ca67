"""Functions whose generated code is checked in under tests/golden/."""


def newton_sqrt(a):
    x = a
    while abs(x * x - a) > 1e-12 * a:
        x = 0.5 * (x + a / x)
    return x


def early_return(x, n):
    if x < 0.0:
        return 0.0
    for i in range(n):
        x = x * x - 0.5
        if x > 10.0:
            return 10.0 + x
    return x
