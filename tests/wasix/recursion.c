/* Deep recursion per context: each context recurses DEPTH frames, each frame holding a
 * buffer filled with a pattern unique to (context, depth), switches to main at the bottom,
 * and checks every buffer on the way back up after being resumed in a scrambled order. */
#include <stdio.h>
#include <string.h>
#include "wasix_context.h"

#define CONTEXTS 8
#define DEPTH 200
#define BUF 64

static wasix_context_id_t ids[CONTEXTS];
static int starting;
static int errors[CONTEXTS];
static int finished[CONTEXTS];

__attribute__((noinline)) static void fill(volatile unsigned char *b, int who, int depth) {
  for (int i = 0; i < BUF; i++) b[i] = (unsigned char)(who * 31 + depth * 7 + i);
}
__attribute__((noinline)) static int check(volatile unsigned char *b, int who, int depth) {
  for (int i = 0; i < BUF; i++) if (b[i] != (unsigned char)(who * 31 + depth * 7 + i)) return 1;
  return 0;
}

__attribute__((noinline)) static int descend(int who, int depth) {
  volatile unsigned char buf[BUF];
  fill(buf, who, depth);
  int bad = 0;
  if (depth == DEPTH) {
    /* Two switches at the bottom, so every context is suspended deep while others run. */
    wasix_context_switch(wasix_context_main);
    wasix_context_switch(wasix_context_main);
  } else {
    bad = descend(who, depth + 1);
  }
  return bad + check(buf, who, depth);
}

static void body(void) {
  int who = starting;
  errors[who] = descend(who, 0);
  finished[who] = 1;
  for (;;) wasix_context_switch(wasix_context_main);
}

/* Main recurses too, so its own stack is deep while contexts run. */
static int main_descend(int depth) {
  volatile unsigned char buf[BUF];
  fill(buf, 99, depth);
  int bad = 0;
  if (depth == 50) {
    for (int i = 0; i < CONTEXTS; i++) { starting = i; wasix_context_switch(ids[i]); }
    for (int r = 0; r < 2; r++)
      for (int k = 0; k < CONTEXTS; k++) wasix_context_switch(ids[(k * 5 + r) % CONTEXTS]);
  } else bad = main_descend(depth + 1);
  return bad + check(buf, 99, depth);
}

int main(void) {
  for (int i = 0; i < CONTEXTS; i++) if (wasix_context_create(&ids[i], body)) return 10;
  int main_bad = main_descend(0);
  int total = 0, done = 0;
  for (int i = 0; i < CONTEXTS; i++) { total += errors[i]; done += finished[i]; wasix_context_destroy(ids[i]); }
  printf("recursion contexts=%d depth=%d finished=%d errors=%d main_errors=%d\n", CONTEXTS, DEPTH, done, total, main_bad);
  return total || main_bad || done != CONTEXTS ? 11 : 0;
}
