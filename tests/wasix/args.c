/* WASI conformance: argv and exit status. Prints argc and each argument; exits with argv[1]
 * when it is a number. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  printf("argc=%d\n", argc);
  for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
  return argc > 1 ? atoi(argv[1]) : 0;
}
