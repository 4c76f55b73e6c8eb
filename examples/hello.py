"""Print the Python version and a computed value (run: npm start)."""

import sys


def fib(n: int) -> int:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


print(f"Hello from Python {sys.version.split()[0]} on {sys.platform}")
print(f"fib(90) = {fib(90)}")
