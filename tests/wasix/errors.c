/* Every error and no-op case of the context API, with Wasmer's codes. Prints one line per
 * check ("ok name" or "FAIL name: got X want Y") and exits 0 only if all pass. */
#include <stdio.h>
#include "wasix_context.h"

static int failures;
static void expect(const char *name, int got, int want) {
  if (got == want) printf("ok %s\n", name);
  else { printf("FAIL %s: got %d want %d\n", name, got, want); failures++; }
}

static wasix_context_id_t a, b, self_test;
static int a_runs;

static void a_body(void) {
  for (;;) { a_runs++; wasix_context_switch(wasix_context_main); }
}

/* Runs inside a context: checks that need a non-main active context. */
static void self_body(void) {
  expect("destroy active (self) is EINVAL", wasix_context_destroy(self_test), WASIX_EINVAL);
  expect("destroy main from a context is EINVAL", wasix_context_destroy(wasix_context_main), WASIX_EINVAL);
  expect("switch to self from a context is a no-op", wasix_context_switch(self_test), 0);
  for (;;) wasix_context_switch(wasix_context_main);
}

static int takes_int(int x) { return x + 1; }
static int returns_int(void) { return 1; }

int main(void) {
  expect("create a", wasix_context_create(&a, a_body), 0);
  expect("create b", wasix_context_create(&b, a_body), 0);
  expect("ids count up from 1", (int)a, 1);
  expect("second id", (int)b, 2);
  expect("switch to main from main is a no-op", wasix_context_switch(wasix_context_main), 0);
  expect("switch to unknown id is EINVAL", wasix_context_switch(12345), WASIX_EINVAL);
  expect("switch to id with high bits is EINVAL", wasix_context_switch(((uint64_t)1 << 32) | a), WASIX_EINVAL);
  expect("destroy main is EINVAL", wasix_context_destroy(wasix_context_main), WASIX_EINVAL);
  expect("destroy unknown id is a no-op", wasix_context_destroy(999), 0);

  /* Entrypoint signature: must be () -> (). */
  wasix_context_id_t bad;
  expect("create with (int)->int entrypoint is EINVAL", wasix_context_create(&bad, (void (*)(void))takes_int), WASIX_EINVAL);
  expect("create with ()->int entrypoint is EINVAL", wasix_context_create(&bad, (void (*)(void))returns_int), WASIX_EINVAL);
  expect("create with null entrypoint is EINVAL", wasix_context_create(&bad, (void (*)(void))0), WASIX_EINVAL);
  expect("create with out-of-table entrypoint is EINVAL", wasix_context_create(&bad, (void (*)(void))100000), WASIX_EINVAL);
  expect("create with out-of-bounds id pointer is EFAULT", wasix_context_create((wasix_context_id_t *)0xfffffff0u, a_body), WASIX_EFAULT);

  /* A never-started context can be destroyed; afterwards it is unknown. */
  expect("destroy new (never started) context", wasix_context_destroy(b), 0);
  expect("switch to destroyed new context is EINVAL", wasix_context_switch(b), WASIX_EINVAL);
  expect("destroy deleted context is a no-op", wasix_context_destroy(b), 0);

  /* A started, suspended context. */
  expect("switch to a", wasix_context_switch(a), 0);
  expect("switch to a again", wasix_context_switch(a), 0);
  expect("a ran twice", a_runs, 2);
  expect("destroy suspended context", wasix_context_destroy(a), 0);
  expect("switch to destroyed suspended context is EINVAL", wasix_context_switch(a), WASIX_EINVAL);
  expect("destroy it again is a no-op", wasix_context_destroy(a), 0);
  expect("a did not run after destroy", a_runs, 2);

  /* Checks from inside a context. */
  expect("create self_test", wasix_context_create(&self_test, self_body), 0);
  expect("ids are not reused", (int)self_test, 3);
  expect("switch to self_test", wasix_context_switch(self_test), 0);
  expect("destroy self_test from main", wasix_context_destroy(self_test), 0);

  /* Many create/destroy cycles reuse stack regions. */
  int rc = 0;
  for (int i = 0; i < 1000 && !rc; i++) {
    wasix_context_id_t t;
    rc = wasix_context_create(&t, a_body) | wasix_context_switch(t) | wasix_context_destroy(t);
  }
  expect("1000 create/switch/destroy cycles", rc, 0);

  printf("%d failure(s)\n", failures);
  return failures ? 1 : 0;
}
