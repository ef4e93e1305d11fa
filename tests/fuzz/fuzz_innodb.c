/* libFuzzer target: the odbc probe's InnoDB readers on arbitrary bytes.
 * - probe_mysql_filename_encode (table names come from the server): output
 *   NUL-terminated, within the buffer, only [0-9A-Za-z_@] characters.
 * - probe_mysql_scan_tablespace (the .ibd file is outside input): the input
 *   as a tablespace of 4 KB pages (zero-padded to four pages), then the
 *   rebuilt-size model on what it found: no crash, no read past the file,
 *   counts that add up. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "probes/odbc/mysql_filename.h"
#include "probes/odbc/mysql_space.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct mem {
	const unsigned char *p;
	size_t len;
};

static int mem_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	const struct mem *m = ctx;
	if (off > m->len || len > m->len - off)
		abort(); /* the scan must stay inside the file size it was given */
	memcpy(buf, m->p + off, len);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[512], small[8], err[256];

	for (size_t cap = 1; cap <= sizeof(out); cap = cap * 4 + 3) {
		char *o = cap <= sizeof(small) ? small : out;
		int rc = probe_mysql_filename_encode((const char *)data, size, o, cap);
		size_t n = strnlen(o, cap);
		if (n >= cap)
			abort();
		if (rc == 0)
			for (size_t i = 0; i < n; i++)
				if (!strchr("0123456789abcdefghijklmnopqrstuvwxyz"
					    "ABCDEFGHIJKLMNOPQRSTUVWXYZ_@",
					    o[i]) ||
				    o[i] == '\0')
					abort();
		if (rc != 0 && n != 0)
			abort();
	}

	const size_t ps = 4096;
	size_t len = size < 4 * ps ? 4 * ps : (size / ps) * ps;
	unsigned char *file = calloc(1, len);
	if (!file)
		return 0;
	memcpy(file, data, size < len ? size : len);
	struct mem m = {.p = file, .len = len};
	struct probe_mysql_scan sc;
	if (probe_mysql_scan_tablespace(mem_read, &m, (int64_t)len, (int64_t)ps, -1, &sc, err,
					sizeof(err)) == 0) {
		if (sc.used_pages + sc.free_pages > sc.file_pages)
			abort();
		int64_t pages = 0;
		for (size_t i = 0; i < sc.nix; i++)
			pages += sc.ix[i].leaf_pages + sc.ix[i].nonleaf_pages;
		if (pages > sc.used_pages)
			abort();
		struct probe_mysql_layout l = {.page_size = (int64_t)ps, .fill_factor = 100};
		if (probe_mysql_rebuilt_pages(sc.ix, sc.nix, &l) <= 0)
			abort();
		probe_mysql_scan_free(&sc);
	} else if (!memchr(err, '\0', sizeof(err))) {
		abort();
	}
	free(file);
	return 0;
}
