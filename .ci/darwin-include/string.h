/* Stand-in string.h for freestanding darwin type-checking (see TargetConditionals.h). */
#ifndef JCDIAG_CI_STRING_H
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
