/* A context that fails: argv[1] = "trap" (unreachable), "exit" (exit(7) inside a context),
 * "overflow" (recursion past the context's stack), or "main-trap" (trap in main). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wasix_context.h"

static const char *mode;

__attribute__((noinline)) static int deep(int n) {
  volatile char big[1024];
  for (int i = 0; i < 1024; i++) big[i] = (char)n;
  return n == 0 ? big[0] : deep(n - 1) + big[1];
}

static void body(void) {
  printf("context running: %s\n", mode);
  if (!strcmp(mode, "trap")) __builtin_trap();
  if (!strcmp(mode, "exit")) exit(7);
  if (!strcmp(mode, "overflow")) printf("deep=%d\n", deep(40));
  wasix_context_switch(wasix_context_main);
}

int main(int argc, char **argv) {
  mode = argc > 1 ? argv[1] : "trap";
  if (!strcmp(mode, "main-trap")) __builtin_trap();
  wasix_context_id_t id, pad;
  /* Never-started contexts below the one that runs absorb an overflow's writes. */
  for (int i = 0; i < 6; i++) if (wasix_context_create(&pad, body)) return 9;
  if (wasix_context_create(&id, body)) return 10;
  wasix_context_switch(id);
  printf("main resumed after %s\n", mode);
  return 0;
}
