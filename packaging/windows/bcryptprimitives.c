/* A stand-in for Windows' bcryptprimitives.dll, used only to build and smoke-test the Windows
 * app under Wine 8 and never shipped (packaging/windows/README.md). Rust's standard library
 * (cryptography, pydantic-core) draws its random bytes from ProcessPrng, which Windows 10+ has
 * and Wine 8's bcryptprimitives.dll lacks; this one answers from Wine's system random source.
 * Built by packaging/windows/wine-build.sh with x86_64-w64-mingw32-gcc. */
#include <windows.h>
#include <bcrypt.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T size)
{
    while (size > 0) {
        ULONG chunk = size > 0x10000000 ? 0x10000000 : (ULONG)size;
        if (BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0)
            return FALSE;
        data += chunk;
        size -= chunk;
    }
    return TRUE; /* Windows documents that ProcessPrng always returns TRUE */
}
