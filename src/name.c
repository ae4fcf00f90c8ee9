/*
 * Mailslot names: parsing and normalising, pure C (no OS calls), so the same
 * rules hold on every backend and can be tested alone.
 *
 * Accepted forms ('/' may stand for '\' anywhere, case does not matter):
 *   \\.\mailslot\path       local
 *   \\HOST\mailslot\path    local when HOST is this machine, else remote
 *   \\*\mailslot\path       broadcast to the primary domain
 *   \mailslot\path          local (the form SMB carries on the wire)
 *   path                    local, e.g. "app\finance" or "app/finance"
 * The canonical form is \\.\mailslot\path with the path lower-cased, so names
 * that Windows treats as one slot compare equal byte for byte.
 */
#include "mailslot.h"

#include <string.h>

static const char PREFIX[] = "mailslot\\";
#define PREFIX_LEN (sizeof PREFIX - 1)
/* `\\.\mailslot\` plus the path must stay below MAX_PATH. */
#define LOCAL_HEAD_LEN 13
#define TOO_LONG "longer than Windows allows (259 characters in all)"

/*
 * How many UTF-16 units the W calls make of s[0 .. len): one per character,
 * two for a 4-byte sequence. Bytes that are not UTF-8 are refused later, by
 * the OS's conversion; callers bound the bytes too, so they cannot overrun.
 */
static size_t utf16_units(const char *s, size_t len) {
  size_t i, units = 0;
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x80 || c >= 0xc0) units++;  /* not a continuation byte */
    if (c >= 0xf0) units++;               /* beyond the BMP: a surrogate pair */
  }
  return units;
}

static char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static char ascii_upper(char c) {
  return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
}

/* Whether a[0..alen) begins with b, ignoring ASCII case. */
static int starts_with_ci(const char *a, size_t alen, const char *b) {
  size_t i, blen = strlen(b);
  if (alen < blen) return 0;
  for (i = 0; i < blen; i++)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return 0;
  return 1;
}

static int same_ignoring_case(const char *a, size_t alen, const char *b) {
  return strlen(b) == alen && starts_with_ci(a, alen, b);
}

/* Characters Windows refuses in file and mailslot names. */
static int refused_char(unsigned char c) {
  return c < 0x20 || c == 0x7f || strchr("<>:\"|?*", c) != NULL;
}

static ms_code bad_name(ms_error *err, const char *text, size_t len,
                        const char *why) {
  /* Quote at most 200 bytes of the offending name so the message stays short. */
  int shown = len > 200 ? 200 : (int)len;
  return ms_fail(err, MS_INVALID_NAME, 0, "invalid mailslot name \"%.*s%s\": %s",
                 shown, text, len > 200 ? "..." : "", why);
}

static ms_code check_path(const char *path, size_t len, const char *text,
                          size_t text_len, ms_error *err) {
  size_t i, start = 0;
  if (len == 0) return bad_name(err, text, text_len, "the name after \\mailslot\\ is empty");
  if (LOCAL_HEAD_LEN + utf16_units(path, len) >= MS_NAME_MAX || len >= MS_NAME_BYTES)
    return bad_name(err, text, text_len, TOO_LONG);
  for (i = 0; i <= len; i++) {
    if (i < len && refused_char((unsigned char)path[i]))
      return bad_name(err, text, text_len,
                      "contains a character Windows refuses (control characters or <>:\"|?*)");
    if (i == len || path[i] == '\\') {
      size_t part = i - start;
      if (part == 0) return bad_name(err, text, text_len, "has an empty path component");
      if ((part == 1 && path[start] == '.') ||
          (part == 2 && path[start] == '.' && path[start + 1] == '.'))
        return bad_name(err, text, text_len, "has a \".\" or \"..\" path component");
      start = i + 1;
    }
  }
  return MS_OK;
}

static ms_code check_host(const char *host, size_t len, const char *text,
                          size_t text_len, ms_error *err) {
  size_t i;
  if (len == 0) return bad_name(err, text, text_len, "the server name after \\\\ is empty");
  if (len >= MS_HOST_MAX) return bad_name(err, text, text_len, "the server name is too long");
  if (len == 1 && (host[0] == '.' || host[0] == '*')) return MS_OK;
  for (i = 0; i < len; i++)
    if (refused_char((unsigned char)host[i]) || host[i] == ' ')
      return bad_name(err, text, text_len, "the server name contains a character Windows refuses");
  return MS_OK;
}

ms_code ms_name_parse(const char *text, size_t len, const char *this_host,
                      ms_name *out, ms_error *err) {
  char buf[MS_FULL_BYTES + 16];
  const char *host = ".", *path;
  size_t host_len = 1, path_len, i;
  ms_code rc;

  if (len == 0) return bad_name(err, text, len, "the name is empty");
  if (len >= sizeof buf) return bad_name(err, text, len, TOO_LONG);
  if (memchr(text, '\0', len)) return bad_name(err, text, len, "contains a NUL byte");
  for (i = 0; i < len; i++) buf[i] = text[i] == '/' ? '\\' : text[i];
  buf[len] = '\0';

  path = buf;
  path_len = len;
  if (len >= 2 && buf[0] == '\\' && buf[1] == '\\') {
    const char *sep = memchr(buf + 2, '\\', len - 2);
    host = buf + 2;
    host_len = sep ? (size_t)(sep - host) : len - 2;
    if ((rc = check_host(host, host_len, text, len, err)) != MS_OK) return rc;
    if (!sep || !starts_with_ci(sep + 1, (size_t)(buf + len - sep - 1), PREFIX))
      return bad_name(err, text, len, "expected \\\\server\\mailslot\\name");
    path = sep + 1 + PREFIX_LEN;
    path_len = (size_t)(buf + len - path);
  } else if (buf[0] == '\\') {
    if (!starts_with_ci(buf + 1, len - 1, PREFIX))
      return bad_name(err, text, len, "expected \\mailslot\\name or \\\\.\\mailslot\\name");
    path = buf + 1 + PREFIX_LEN;
    path_len = len - 1 - PREFIX_LEN;
  }
  if ((rc = check_path(path, path_len, text, len, err)) != MS_OK) return rc;

  if (host_len == 1 && host[0] == '.') out->kind = MS_NAME_LOCAL;
  else if (host_len == 1 && host[0] == '*') out->kind = MS_NAME_BROADCAST;
  else if (this_host && same_ignoring_case(host, host_len, this_host)) {
    out->kind = MS_NAME_LOCAL;
    host = ".";
    host_len = 1;
  } else out->kind = MS_NAME_REMOTE;
  /* The whole canonical name, \\host\mailslot\path, stays below MAX_PATH. */
  if (2 + utf16_units(host, host_len) + 10 + utf16_units(path, path_len) >= MS_NAME_MAX ||
      2 + host_len + 10 + path_len >= MS_FULL_BYTES)
    return bad_name(err, text, len, TOO_LONG);

  for (i = 0; i < host_len; i++) out->host[i] = ascii_upper(host[i]);
  out->host[host_len] = '\0';
  for (i = 0; i < path_len; i++) out->path[i] = ascii_lower(path[i]);
  out->path[path_len] = '\0';
  memcpy(out->full, "\\\\", 2);
  memcpy(out->full + 2, out->host, host_len);
  memcpy(out->full + 2 + host_len, "\\mailslot\\", 10);
  memcpy(out->full + 12 + host_len, out->path, path_len + 1);
  return MS_OK;
}
