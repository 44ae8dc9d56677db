/*
 * Stand-in bcryptprimitives.dll for Wine < 9.
 *
 * Rust std (1.78+) on Windows imports ProcessPrng from bcryptprimitives.dll
 * for HashMap seeds and getrandom. Debian 12's Wine 8.0 ships no such DLL, so
 * every Windows test binary dies at load time (exit status 53). This DLL
 * provides ProcessPrng on top of RtlGenRandom (advapi32!SystemFunction036),
 * which Wine 8 does implement.
 *
 * Build: x86_64-w64-mingw32-gcc -shared -O2 -s -o bcryptprimitives.dll \
 *          processprng.c -ladvapi32
 */
#include <windows.h>

/* RtlGenRandom; takes a ULONG length, hence the chunking below. */
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE; /* like Windows' own ProcessPrng, which never fails */
}
