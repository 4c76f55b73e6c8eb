"""A mixed CPU-bound Python workload for `npm run bench -- interp`: objects with
__slots__, dict and str work, JSON encode/decode, recursion. Prints
{"ms": median milliseconds per round} over `rounds` rounds after 3 warm-up rounds."""

import json
import sys
import time


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


class Point:
    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x = x
        self.y = y


def one_round():
    d = {}
    for i in range(20000):
        p = Point(i, str(i))
        d[p.y] = p.x * 2
    text = json.dumps([{"id": i, "name": f"item {i}", "done": i % 2 == 0} for i in range(2000)])
    json.loads(text)
    fib(20)
    return len(d)


rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 15
for _ in range(3):
    one_round()
times = []
for _ in range(rounds):
    t0 = time.perf_counter()
    one_round()
    times.append((time.perf_counter() - t0) * 1000)
times.sort()
print(json.dumps({"ms": times[len(times) // 2]}))
