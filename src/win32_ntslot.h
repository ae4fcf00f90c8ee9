/*
 * Creating a mailslot the way Windows' own CreateMailslotW does.
 *
 * Windows' CreateMailslotW calls NtCreateMailslotFile without
 * FILE_SYNCHRONOUS_IO_*, so its handles complete reads asynchronously and
 * an overlapped ReadFile waits for the next message. Wine's CreateMailslotW
 * asks for a synchronous handle (its overlapped reads block), while Wine 10
 * given Windows' arguments makes an asynchronous one. Calling
 * NtCreateMailslotFile with those arguments gives the same handle on both.
 */
#ifndef MAILSLOT_WIN32_NTSLOT_H
#define MAILSLOT_WIN32_NTSLOT_H

#include <windows.h>

/*
 * As CreateMailslotW(name, max_size, timeout_ms, sa): a handle, or
 * INVALID_HANDLE_VALUE with GetLastError() set (ERROR_ALREADY_EXISTS, ...).
 */
HANDLE ms_nt_create_mailslot(const wchar_t *name, DWORD max_size, DWORD timeout_ms,
                             SECURITY_ATTRIBUTES *sa);

#endif
