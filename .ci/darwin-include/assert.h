/* Stand-in assert.h for freestanding darwin type-checking (see TargetConditionals.h).
 * Deliberately not include-guarded: the C standard lets assert.h be re-included
 * to re-evaluate NDEBUG. The condition is still type-checked when NDEBUG is set. */
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
