/*
 * The WASIX context API (wasix-org/wasix-libc, libc-bottom-half/headers/public/wasix/context.h),
 * declared directly as imports of module "wasix_32v1" so any wasm32-wasi toolchain can build
 * against it. Return values are WASI errno codes (0 = success).
 */
#ifndef GREENWASM_WASIX_CONTEXT_H
#define GREENWASM_WASIX_CONTEXT_H
#include <stdint.h>

typedef uint64_t wasix_context_id_t;
#define wasix_context_main ((wasix_context_id_t)0)

/* WASI errno values used by the tests. */
#define WASIX_ESUCCESS 0
#define WASIX_EFAULT 21
#define WASIX_EINVAL 28

/* Writes a new context's id to *id; `entrypoint` runs on the first switch to it and must never return. */
__attribute__((import_module("wasix_32v1"), import_name("context_create")))
int wasix_context_create(wasix_context_id_t *id, void (*entrypoint)(void));

/* Suspends the active context and resumes `target`; returns when something switches back. */
__attribute__((import_module("wasix_32v1"), import_name("context_switch")))
int wasix_context_switch(wasix_context_id_t target);

/* Frees a suspended or terminated context. */
__attribute__((import_module("wasix_32v1"), import_name("context_destroy")))
int wasix_context_destroy(wasix_context_id_t id);

#endif
