/* A mailslot made as Windows' CreateMailslotW makes it: see win32_ntslot.h. */
#include "win32_ntslot.h"

#include <winternl.h>

#include <string.h>

typedef NTSTATUS(NTAPI *create_fn)(HANDLE *, ACCESS_MASK, OBJECT_ATTRIBUTES *, IO_STATUS_BLOCK *,
                                   ULONG options, ULONG quota, ULONG max_size,
                                   LARGE_INTEGER *timeout);
typedef BOOLEAN(NTAPI *dos_to_nt_fn)(const wchar_t *, UNICODE_STRING *, const wchar_t **, void *);
typedef ULONG(NTAPI *status_to_error_fn)(NTSTATUS);

/* An ntdll export through a plain function pointer (GetProcAddress's type is generic). */
static void (*ntdll_fn(const char *name))(void) {
  HMODULE ntdll = GetModuleHandleA("ntdll.dll");
  return ntdll ? (void (*)(void))GetProcAddress(ntdll, name) : NULL;
}

HANDLE ms_nt_create_mailslot(const wchar_t *name, DWORD max_size, DWORD timeout_ms,
                             SECURITY_ATTRIBUTES *sa) {
  create_fn create = (create_fn)ntdll_fn("NtCreateMailslotFile");
  dos_to_nt_fn dos_to_nt = (dos_to_nt_fn)ntdll_fn("RtlDosPathNameToNtPathName_U");
  status_to_error_fn to_error = (status_to_error_fn)ntdll_fn("RtlNtStatusToDosError");
  UNICODE_STRING path;
  OBJECT_ATTRIBUTES attr;
  IO_STATUS_BLOCK io;
  LARGE_INTEGER timeout;
  HANDLE h = INVALID_HANDLE_VALUE;
  NTSTATUS status;
  /* The documented call where the native one is not there (ntdll is not a
   * documented interface): the handle's mode then decides the path, as it does. */
  if (!create || !dos_to_nt || !to_error)
    return CreateMailslotW(name, max_size, timeout_ms, sa);
  if (!dos_to_nt(name, &path, NULL, NULL)) { /* \\.\mailslot\x -> \??\mailslot\x */
    SetLastError(ERROR_PATH_NOT_FOUND);
    return INVALID_HANDLE_VALUE;
  }
  /* 100 ns units, negative for "relative"; forever is the largest wait. */
  if (timeout_ms == MAILSLOT_WAIT_FOREVER) timeout.QuadPart = 0x7fffffffffffffffLL;
  else timeout.QuadPart = (LONGLONG)timeout_ms * -10000LL;
  memset(&attr, 0, sizeof attr);
  attr.Length = sizeof attr;
  attr.ObjectName = &path;
  attr.Attributes = OBJ_CASE_INSENSITIVE | (sa && sa->bInheritHandle ? OBJ_INHERIT : 0);
  attr.SecurityDescriptor = sa ? sa->lpSecurityDescriptor : NULL;
  /* Windows' arguments: no FILE_SYNCHRONOUS_IO_*, so reads can stay pending. */
  status = create(&h, GENERIC_READ | SYNCHRONIZE | WRITE_DAC, &attr, &io, FILE_WRITE_THROUGH, 0,
                  max_size, &timeout);
  HeapFree(GetProcessHeap(), 0, path.Buffer);
  if (status < 0) {
    SetLastError(to_error(status));
    return INVALID_HANDLE_VALUE;
  }
  return h;
}
