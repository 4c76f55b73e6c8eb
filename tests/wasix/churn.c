/* Destroying contexts frees their resources: N cycles of create, start, suspend and destroy
 * (alternating with never-started ones) must not grow linear memory beyond the first regions.
 * Prints the memory size in pages before and after. */
#include <stdio.h>
#include <stdlib.h>
#include "wasix_context.h"

static void body(void) {
  for (;;) wasix_context_switch(wasix_context_main);
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 20000;
  wasix_context_id_t warm;
  if (wasix_context_create(&warm, body) || wasix_context_switch(warm) || wasix_context_destroy(warm)) return 10;
  unsigned long before = __builtin_wasm_memory_size(0);
  for (int i = 0; i < n; i++) {
    wasix_context_id_t id;
    if (wasix_context_create(&id, body)) return 11;
    if (i % 2 == 0 && (wasix_context_switch(id) || wasix_context_switch(id))) return 12;
    if (wasix_context_destroy(id)) return 13;
  }
  printf("churn n=%d pages_before=%lu pages_after=%lu\n", n, before, (unsigned long)__builtin_wasm_memory_size(0));
  return 0;
}
