/* my_charset_filename, the encoding InnoDB gives database and table names
 * on disk (see mysql_filename.h). Checked against a real MariaDB in
 * tests/unit/test_odbc_mysql.c (fixture made by the server) and
 * tests/integration/24-mariadb-reclaimable.sh. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "probes/odbc/mysql_filename.h"

/* One code point from UTF-8 at s (n bytes left), strict: no overlong forms,
 * no surrogates, at most U+FFFF. Bytes used, or 0 when invalid. */
static size_t utf8_bmp(const unsigned char *s, size_t n, uint32_t *ret)
{
	if (s[0] < 0x80) {
		*ret = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		if (n < 2 || (s[1] & 0xc0) != 0x80 || s[0] < 0xc2)
			return 0;
		*ret = ((uint32_t)(s[0] & 0x1f) << 6) | (s[1] & 0x3f);
		return 2;
	}
	if ((s[0] & 0xf0) == 0xe0) {
		if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		uint32_t cp = ((uint32_t)(s[0] & 0x0f) << 12) | ((uint32_t)(s[1] & 0x3f) << 6) |
			      (s[2] & 0x3f);
		if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		*ret = cp;
		return 3;
	}
	return 0; /* 4-byte forms (outside the BMP) and stray bytes */
}

static int code_cmp(const void *key, const void *elem)
{
	uint32_t cp = *(const uint32_t *)key, e = *(const uint32_t *)elem >> 16;
	return cp < e ? -1 : cp > e;
}

/* Windows device names, matched whole and case-insensitively: InnoDB
 * appends "@@@" to them on every platform. */
static bool reserved_name(const char *s, size_t len)
{
	static const char *const names[] = {"con", "prn", "aux", "nul"};

	if (len == 3) {
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strncasecmp(s, names[i], 3) == 0)
				return true;
		return false;
	}
	return len == 4 && (strncasecmp(s, "com", 3) == 0 || strncasecmp(s, "lpt", 3) == 0) &&
	       s[3] >= '1' && s[3] <= '9';
}

int probe_mysql_filename_encode(const char *ident, size_t len, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)ident;
	size_t o = 0;

	if (outlen == 0)
		return -ENOSPC;
	out[0] = '\0';
	if (len == 0 || memchr(ident, '\0', len))
		return -EINVAL;
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t used = utf8_bmp(s + i, len - i, &cp);
		char buf[5];
		size_t blen;

		if (used == 0) {
			out[0] = '\0';
			return -EILSEQ;
		}
		i += used;
		if ((cp >= '0' && cp <= '9') || (cp >= 'A' && cp <= 'Z') ||
		    (cp >= 'a' && cp <= 'z') || cp == '_') {
			buf[0] = (char)cp;
			blen = 1;
		} else {
			const uint32_t *code =
				cp >= 0xc0
					? bsearch(&cp, probe_mysql_filename_codes,
						  probe_mysql_filename_ncodes,
						  sizeof(probe_mysql_filename_codes[0]), code_cmp)
					: NULL;
			buf[0] = '@';
			if (code) {
				buf[1] = (char)((*code >> 8) & 0xff);
				buf[2] = (char)(*code & 0xff);
				blen = 3;
			} else {
				buf[1] = hex[(cp >> 12) & 15];
				buf[2] = hex[(cp >> 8) & 15];
				buf[3] = hex[(cp >> 4) & 15];
				buf[4] = hex[cp & 15];
				blen = 5;
			}
		}
		if (o + blen + 1 > outlen) {
			out[0] = '\0';
			return -ENOSPC;
		}
		memcpy(out + o, buf, blen);
		o += blen;
	}
	if (reserved_name(ident, len)) {
		if (o + 4 > outlen) {
			out[0] = '\0';
			return -ENOSPC;
		}
		memcpy(out + o, "@@@", 3);
		o += 3;
	}
	out[o] = '\0';
	return 0;
}
