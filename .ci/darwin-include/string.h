/*
 * Stand-in string.h for type-checking C deps (ring) for aarch64-apple-darwin
 * on Linux. If real Darwin libc headers come later on the include path (see
 * setup-cross.sh), defer to them; otherwise declare the few functions ring uses.
 */
#if defined(__has_include_next) && __has_include_next(<string.h>)
#include_next <string.h>
#elif !defined(JCDIAG_CI_STRING_H)
#define JCDIAG_CI_STRING_H

#include <stddef.h> /* size_t, NULL: from clang's builtin include dir */

#ifdef __cplusplus
extern "C" {
#endif

void *memcpy(void *__restrict dst, const void *__restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

#ifdef __cplusplus
}
#endif

#endif
