/* WASI conformance: environment. Prints the number of variables, then NAME=value (or
 * NAME unset) for each argument. */
#include <stdio.h>
#include <stdlib.h>

extern char **environ;

int main(int argc, char **argv) {
  int n = 0;
  while (environ[n]) n++;
  printf("count=%d\n", n);
  for (int i = 1; i < argc; i++) {
    const char *v = getenv(argv[i]);
    if (v) printf("%s=%s\n", argv[i], v);
    else printf("%s unset\n", argv[i]);
  }
  return 0;
}
