/* poll_oneoff sleeps suspend the program, not the host: argv[1] milliseconds, in main and
 * then inside a context. The test's JS timers must fire while it sleeps. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include "wasix_context.h"

static int ms;
static void body(void) {
  printf("context sleeping\n");
  usleep(ms * 1000);
  printf("context awake\n");
  for (;;) wasix_context_switch(wasix_context_main);
}

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
  ms = argc > 1 ? atoi(argv[1]) : 100;
  double t0 = now_ms();
  printf("main sleeping\n");
  struct timespec req = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&req, NULL);
  printf("main awake\n");
  wasix_context_id_t id;
  if (wasix_context_create(&id, body)) return 10;
  wasix_context_switch(id);
  double elapsed = now_ms() - t0;
  printf("slept %s\n", elapsed >= 2 * ms - 1 ? "long enough" : "too little");
  wasix_context_destroy(id);
  return 0;
}
