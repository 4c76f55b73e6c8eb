/* WASI conformance: clocks and randomness. Prints the realtime clock in seconds (the test
 * compares it with the host), whether monotonic time advances across a 20 ms sleep, the
 * clock resolution, and whether random_get fills a buffer. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(void) {
  struct timespec r, m0, m1, res;
  clock_gettime(CLOCK_REALTIME, &r);
  printf("realtime=%lld\n", (long long)r.tv_sec);
  clock_gettime(CLOCK_MONOTONIC, &m0);
  usleep(20000);
  clock_gettime(CLOCK_MONOTONIC, &m1);
  double ms = (m1.tv_sec - m0.tv_sec) * 1e3 + (m1.tv_nsec - m0.tv_nsec) / 1e6;
  printf("monotonic advanced: %s\n", ms >= 19.0 ? "yes" : "no");
  clock_getres(CLOCK_MONOTONIC, &res);
  printf("resolution ok: %s\n", res.tv_sec == 0 && res.tv_nsec > 0 && res.tv_nsec <= 1000000 ? "yes" : "no");
  unsigned char a[32], b[32];
  memset(a, 0, sizeof a); memset(b, 0, sizeof b);
  getentropy(a, sizeof a); getentropy(b, sizeof b);
  printf("random differs: %s\n", memcmp(a, b, sizeof a) ? "yes" : "no");
  return 0;
}
