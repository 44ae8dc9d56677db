/*
 * Stand-in assert.h for type-checking C deps (ring) for aarch64-apple-darwin
 * on Linux; defers to real Darwin libc headers when they are on the path.
 * Not include-guarded: like the real one, it may be re-included to honour a
 * changed NDEBUG. With NDEBUG the condition is still type-checked.
 */
#if defined(__has_include_next) && __has_include_next(<assert.h>)
#include_next <assert.h>
#else
#undef assert
#ifdef NDEBUG
#define assert(e) ((void)sizeof((e) ? 1 : 0))
#else
#define assert(e) ((e) ? (void)0 : __builtin_trap())
#endif
#if !defined(__cplusplus) && defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#undef static_assert
#define static_assert _Static_assert
#endif
#endif
