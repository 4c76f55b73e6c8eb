/* A round-robin scheduler over N contexts (default 10000), all alive at once.
 * Phase 1: main resumes every task in turn, STEPS times. Phase 2: the tasks pass a token
 * around a ring, switching directly from context to context. Then main destroys them all. */
#include <stdio.h>
#include <stdlib.h>
#include "wasix_context.h"

#define STEPS 3
static int n;
static wasix_context_id_t *ids;
static long *counters;
static int current = -1; /* index of the task being started or resumed */
static int phase = 1;
static long token = 0;

static void task(void) {
  int me = current; /* read once, on this context's own stack */
  for (int s = 0; s < STEPS; s++) {
    counters[me] += me + 1;
    wasix_context_switch(wasix_context_main);
  }
  /* Phase 2: pass the token to the next task; the last one returns it to main. */
  token += me;
  if (me + 1 < n) wasix_context_switch(ids[me + 1]);
  else wasix_context_switch(wasix_context_main);
  for (;;) wasix_context_switch(wasix_context_main); /* done: only main may resume us */
}

int main(int argc, char **argv) {
  n = argc > 1 ? atoi(argv[1]) : 10000;
  ids = calloc(n, sizeof *ids);
  counters = calloc(n, sizeof *counters);
  for (int i = 0; i < n; i++)
    if (wasix_context_create(&ids[i], task) != 0) { printf("create %d failed\n", i); return 10; }
  for (int s = 0; s < STEPS; s++)
    for (int i = 0; i < n; i++) {
      current = i;
      if (wasix_context_switch(ids[i]) != 0) return 11;
    }
  phase = 2;
  current = 0;
  if (wasix_context_switch(ids[0]) != 0) return 12;
  long total = 0;
  for (int i = 0; i < n; i++) total += counters[i];
  int bad = 0;
  for (int i = 0; i < n; i++) bad |= wasix_context_destroy(ids[i]);
  printf("scheduler n=%d total=%ld token=%ld destroy=%d\n", n, total, token, bad);
  long expect = (long)STEPS * n * (n + 1) / 2, expect_token = (long)n * (n - 1) / 2;
  return (total == expect && token == expect_token && !bad) ? 0 : 13;
}
