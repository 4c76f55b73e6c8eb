/* A context whose entrypoint returns: the program must end with exit code 129. */
#include <stdio.h>
#include "wasix_context.h"

static void returns(void) { printf("entrypoint running, about to return\n"); }

int main(void) {
  wasix_context_id_t id;
  if (wasix_context_create(&id, returns)) return 10;
  wasix_context_switch(id);
  printf("unreachable: main resumed normally\n");
  return 0;
}
