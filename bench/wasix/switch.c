/* Context-switch round trip at call depth D, one source for three backends:
 *   -DUSE_WASIX      wasix_32v1 context_switch (greenwasm, JSPI), clang --target=wasm32-wasi
 *   -DUSE_UCONTEXT   swapcontext (native, gcc)
 *   -DUSE_EMFIBER    emscripten_fiber_swap (Emscripten, Asyncify)
 * Usage: switch ROUNDS DEPTH. Main and the coroutine each recurse DEPTH frames through
 * non-inlined calls, then ping-pong ROUNDS times. Prints "ns_per_roundtrip=X" (one round
 * trip = two switches: main -> coroutine -> main), after 10% warm-up rounds. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int rounds, depth;
static volatile int sink;
static double result_ns;

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

#if defined(USE_WASIX)
#include "../../tests/wasix/wasix_context.h"
static wasix_context_id_t co_id;
#define TO_CO() wasix_context_switch(co_id)
#define TO_MAIN() wasix_context_switch(wasix_context_main)
#elif defined(USE_UCONTEXT)
#include <ucontext.h>
static ucontext_t main_uc, co_uc;
#define TO_CO() swapcontext(&main_uc, &co_uc)
#define TO_MAIN() swapcontext(&co_uc, &main_uc)
#elif defined(USE_EMFIBER)
#include <emscripten/fiber.h>
static emscripten_fiber_t main_f, co_f;
#define TO_CO() emscripten_fiber_swap(&main_f, &co_f)
#define TO_MAIN() emscripten_fiber_swap(&co_f, &main_f)
#else
#error "define USE_WASIX, USE_UCONTEXT or USE_EMFIBER"
#endif

/* Recurse d frames, then run fn; the frames stay live (work after the call). */
__attribute__((noinline)) static void at_depth(int d, void (*fn)(void)) {
  volatile int pad = d;
  if (d == 0) fn();
  else at_depth(d - 1, fn);
  sink += pad;
}

static void co_loop(void) {
  for (;;) TO_MAIN();
}

static void main_loop(void) {
  int warm = rounds / 10;
  for (int i = 0; i < warm; i++) TO_CO();
  double t0 = now_ns();
  for (int i = 0; i < rounds; i++) TO_CO();
  result_ns = (now_ns() - t0) / rounds;
}

#if defined(USE_EMFIBER)
static void co_entry(void *arg) { (void)arg; at_depth(depth, co_loop); }
#else
static void co_entry(void) { at_depth(depth, co_loop); }
#endif

int main(int argc, char **argv) {
  rounds = argc > 1 ? atoi(argv[1]) : 100000;
  depth = argc > 2 ? atoi(argv[2]) : 0;
#if defined(USE_WASIX)
  if (wasix_context_create(&co_id, co_entry)) return 1;
#elif defined(USE_UCONTEXT)
  static char stack[1 << 20];
  getcontext(&co_uc);
  co_uc.uc_stack.ss_sp = stack;
  co_uc.uc_stack.ss_size = sizeof stack;
  co_uc.uc_link = 0;
  makecontext(&co_uc, co_entry, 0);
#elif defined(USE_EMFIBER)
  static char c_stack[1 << 20], astack_main[1 << 20], astack_co[1 << 20];
  emscripten_fiber_init_from_current_context(&main_f, astack_main, sizeof astack_main);
  emscripten_fiber_init(&co_f, co_entry, 0, c_stack, sizeof c_stack, astack_co, sizeof astack_co);
#endif
  at_depth(depth, main_loop);
  printf("ns_per_roundtrip=%.1f depth=%d rounds=%d\n", result_ns, depth, rounds);
  return 0;
}
