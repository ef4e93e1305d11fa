/* What rebuilding an InnoDB table would give back (docs/fragmentation.md,
 * "MariaDB / MySQL"). Two sources of per-index figures:
 * - exact: the page headers of the table's .ibd file (used pages from the
 *   extent descriptors, bytes of records from each index page's header), so
 *   half-empty pages are seen; only the 94 header bytes of a page are read,
 *   never a record;
 * - pages: mysql.innodb_index_stats (used leaf pages, exact as of the last
 *   ANALYZE TABLE): sees wholly free pages, not free space inside pages.
 * Both feed one model of the rebuilt tablespace: InnoDB's sorted index build
 * fills clustered-index pages to 15/16 (innodb_fill_factor 100) and
 * secondary ones full, and allocates file segments and the file as
 * fsp0fsp.cc does. */
#ifndef ERPULSE_PROBES_ODBC_MYSQL_SPACE_H
#define ERPULSE_PROBES_ODBC_MYSQL_SPACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Used pages and record bytes of one index. bytes < 0: unknown (the pages
 * source); then the pages are taken as they are. */
struct probe_mysql_index_space {
	uint64_t index_id;
	char name[200];
	bool clustered;
	int64_t leaf_pages, nonleaf_pages, blob_pages;
	int64_t leaf_bytes, nonleaf_bytes; /* records + page directory */
	int64_t leaf_recs;
	int64_t pages_after; /* filled by probe_mysql_rebuilt_pages */
};

struct probe_mysql_layout {
	int64_t page_size;   /* innodb_page_size, bytes */
	int64_t fill_factor; /* innodb_fill_factor, % */
};

/* Pages the tablespace file would have after a rebuild (ALTER TABLE ...
 * FORCE / OPTIMIZE TABLE) of a table with these indexes; sets each index's
 * pages_after (its two segments, reserved pages included). */
int64_t probe_mysql_rebuilt_pages(struct probe_mysql_index_space *ix, size_t n,
				  const struct probe_mysql_layout *l);

/* Reads bytes at offset off of the tablespace; 0 or -errno (short read =
 * -EIO). The scan reads each used page's first 94 bytes and the extent
 * descriptor pages, nothing else. */
typedef int (*probe_mysql_read_fn)(void *ctx, uint64_t off, void *buf, size_t len);

struct probe_mysql_scan {
	int64_t file_pages, used_pages, free_pages, other_pages;
	int64_t bytes_read;
	struct probe_mysql_index_space *ix; /* malloc'd, nix entries */
	size_t nix;
};

/* Scans a tablespace of file_size bytes and page_size: per index id, used
 * leaf / non-leaf pages and their record bytes. space_id >= 0: the file's
 * header must name that tablespace. 0, -EINVAL with err saying why the file
 * is not a readable tablespace (encrypted, compressed, another space),
 * -ENOMEM, or the reader's error. Free ret->ix with probe_mysql_scan_free. */
int probe_mysql_scan_tablespace(probe_mysql_read_fn rd, void *rctx, int64_t file_size,
				int64_t page_size, int64_t space_id, struct probe_mysql_scan *ret,
				char *err, size_t errlen);
void probe_mysql_scan_free(struct probe_mysql_scan *s);

#endif
