/*
 * A stand-in for Windows' bcryptprimitives.dll, for running devport's Windows build under Wine.
 *
 * Why: the Rust standard library (1.78 and later) gets its random bytes from ProcessPrng, which
 * Windows 10+ exports from bcryptprimitives.dll. Wine 8 (Debian 12) has no such DLL, so every
 * Rust .exe fails to load there: it exits with code 53 and prints nothing. This file provides
 * that one function on top of BCryptGenRandom, which Wine does implement. It is compiled with
 * mingw into the Wine prefix's system32 by ci/wine/setup (CI only; it is never shipped).
 */
#include <windows.h>
#include <bcrypt.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!BCRYPT_SUCCESS(BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG)))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
