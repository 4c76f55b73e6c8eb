/* Ping-pong between main and one context: N round trips, values passed through a global. */
#include <stdio.h>
#include <stdlib.h>
#include "wasix_context.h"

static wasix_context_id_t pong_id;
static volatile int ball;

static void pong(void) {
  for (;;) {
    ball = ball * 2 + 1; /* observable work on the context's side */
    wasix_context_switch(wasix_context_main);
  }
}

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 1000;
  if (wasix_context_create(&pong_id, pong) != 0) return 10;
  unsigned long sum = 0;
  for (int i = 0; i < rounds; i++) {
    ball = i;
    if (wasix_context_switch(pong_id) != 0) return 11;
    if (ball != i * 2 + 1) return 12;
    sum += ball;
  }
  printf("pingpong %d rounds sum=%lu id=%llu\n", rounds, sum, (unsigned long long)pong_id);
  if (wasix_context_destroy(pong_id) != 0) return 13;
  return 0;
}
