/* Generators on contexts: each yields values to whoever resumed it; two run interleaved,
 * and a third is created and driven from inside another context (not only from main). */
#include <stdio.h>
#include "wasix_context.h"

typedef struct {
  wasix_context_id_t self, caller;
  long value;
  int done;
} gen_t;

static gen_t fib_g, sq_g, inner_g;
static gen_t *starting; /* the generator whose entrypoint is about to run */

static void yield(gen_t *g, long v) {
  g->value = v;
  wasix_context_switch(g->caller);
}

static long next(gen_t *g, wasix_context_id_t me) {
  g->caller = me;
  wasix_context_switch(g->self);
  return g->value;
}

static void fib_body(void) {
  gen_t *g = &fib_g;
  long a = 0, b = 1;
  for (;;) { yield(g, a); long t = a + b; a = b; b = t; }
}

static void squares_body(void) {
  gen_t *g = &sq_g;
  for (long i = 1;; i++) yield(g, i * i);
}

/* A generator that itself consumes another generator (created inside this context). */
static void inner_body(void) {
  gen_t *g = &inner_g;
  for (long i = 100;; i++) yield(g, i);
}
static gen_t outer_g;
static void outer_body(void) {
  gen_t *g = &outer_g;
  if (wasix_context_create(&inner_g.self, inner_body) != 0) { yield(g, -1); }
  for (;;) {
    long a = next(&inner_g, g->self), b = next(&inner_g, g->self);
    yield(g, a + b);
  }
}

int main(void) {
  (void)starting;
  if (wasix_context_create(&fib_g.self, fib_body) || wasix_context_create(&sq_g.self, squares_body) ||
      wasix_context_create(&outer_g.self, outer_body))
    return 10;
  printf("fib:");
  for (int i = 0; i < 10; i++) printf(" %ld", next(&fib_g, wasix_context_main));
  printf("\nmixed:");
  for (int i = 0; i < 4; i++) printf(" %ld/%ld", next(&fib_g, wasix_context_main), next(&sq_g, wasix_context_main));
  printf("\nnested:");
  for (int i = 0; i < 3; i++) printf(" %ld", next(&outer_g, wasix_context_main));
  printf("\n");
  int rc = wasix_context_destroy(fib_g.self) | wasix_context_destroy(sq_g.self) |
           wasix_context_destroy(outer_g.self) | wasix_context_destroy(inner_g.self);
  return rc ? 11 : 0;
}
