/* CPU-bound work through small non-inlined calls: N iterations of a call chain doing integer
 * mixing. Prints "ms=X checksum=Y". Every function on the chain may (in principle) switch
 * coroutines through a function pointer, as in an interpreter whose every call can reach a
 * greenlet switch; the pointer is never taken here. greenwasm runs this binary unmodified;
 * under Asyncify (-DUSE_EMFIBER -sASYNCIFY) every function on the chain is instrumented. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void no_switch(void) {}
static void (*volatile maybe_switch)(void) = no_switch;

#if defined(USE_EMFIBER)
#include <emscripten/fiber.h>
static emscripten_fiber_t main_f, other_f;
static void do_switch(void) { emscripten_fiber_swap(&main_f, &other_f); }
#elif defined(USE_WASIX)
#include "../../tests/wasix/wasix_context.h"
static void do_switch(void) { wasix_context_switch(wasix_context_main); }
#else
static void do_switch(void) {}
#endif

__attribute__((noinline)) static unsigned mix(unsigned x, unsigned i) {
  if (i == 0xffffffffu) maybe_switch(); /* never taken */
  return (x ^ (x >> 13)) * 0x5bd1e995u + i;
}
__attribute__((noinline)) static unsigned step(unsigned x, unsigned i) { return mix(mix(x, i), i + 1); }

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 50000000;
  if (argc > 2) maybe_switch = do_switch; /* reachable, so toolchains must assume it */
  unsigned x = 1;
  double t0 = now_ms();
  for (long i = 0; i < n; i++) x = step(x, (unsigned)i);
  printf("ms=%.1f checksum=%u\n", now_ms() - t0, x);
  return 0;
}
