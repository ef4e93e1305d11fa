/* The rebuilt-size model and the page-header scan of mysql_space.h.
 * Constants are InnoDB's on-disk format (fil0fil.h, page0page.h,
 * fsp0fsp.h), the same in MariaDB 10.x/11.x and MySQL 5.6-8.x for
 * uncompressed, unencrypted tablespaces. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "erpulse/util.h"
#include "probes/odbc/mysql_space.h"

#define FIL_PAGE_TYPE         24
#define FIL_TRAILER           8
#define PAGE_HEADER           38
#define PAGE_HEADER_END       94 /* FIL header + index page header */
#define FSP_FREE_LIMIT        (PAGE_HEADER + 12)
#define XDES_ARR_OFFSET       150
#define XDES_STATE            20
#define XDES_BITMAP           24
#define PAGE_NEW_SUPREMUM_END 120 /* COMPACT / DYNAMIC / COMPRESSED */
#define PAGE_OLD_SUPREMUM_END 125 /* REDUNDANT */

enum {
	T_ALLOCATED = 0,
	T_UNDO = 2,
	T_INODE = 3,
	T_IBUF_FREE = 4,
	T_IBUF_BITMAP = 5,
	T_SYS = 6,
	T_TRX_SYS = 7,
	T_FSP_HDR = 8,
	T_XDES = 9,
	T_BLOB = 10,
	T_ZBLOB = 11,
	T_ZBLOB2 = 12,
	T_INSTANT = 18, /* MariaDB: clustered root after instant ALTER */
	T_RTREE = 17854,
	T_INDEX = 17855,
};
enum { XDES_FREE = 1, XDES_FSEG_FRAG = 5 };

static uint16_t be16(const unsigned char *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t be32(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint64_t be64(const unsigned char *p)
{
	return ((uint64_t)be32(p) << 32) | be32(p + 4);
}

static int64_t extent_pages(int64_t page_size)
{
	return page_size <= 16384 ? (1 << 20) / page_size : 64;
}

static int64_t div_up(int64_t a, int64_t b)
{
	return b > 0 ? (a + b - 1) / b : 0;
}

/* Pages a file segment holds once u pages are used: the first half extent
 * page by page, then whole extents, more taken while less than 1/8 of the
 * reserved pages is left (fseg_alloc_free_page_low, FSEG_FILLFACTOR); from
 * 40 extents on, the segment keeps 4 free extents in its free list instead
 * (fseg_fill_free_list). Matches what rebuilt MariaDB 10.11 tables showed for
 * 51 to 5198 used pages (innodb_index_stats 'size' after OPTIMIZE TABLE). */
static int64_t segment_reserved(int64_t u, int64_t extent)
{
	int64_t frag = extent / 2;
	if (u <= frag)
		return u;
	int64_t r = frag + extent * div_up(u - frag, extent);
	if (r >= 40 * extent)
		return r + 4 * extent;
	while ((r - u) * 8 < r)
		r += extent;
	return r;
}

int64_t probe_mysql_rebuilt_pages(struct probe_mysql_index_space *ix, size_t n,
				  const struct probe_mysql_layout *l)
{
	int64_t ps = l->page_size > 0 ? l->page_size : 16384;
	int64_t ext = extent_pages(ps);
	int64_t cap = ps - PAGE_NEW_SUPREMUM_END - FIL_TRAILER; /* records + directory */
	int64_t total = 3; /* FSP header, insert buffer bitmap, segment inodes */

	for (size_t i = 0; i < n; i++) {
		struct probe_mysql_index_space *x = &ix[i];
		/* btr0bulk.cc: with innodb_fill_factor 100 the clustered index
		 * keeps 1/16 of each page free, secondary indexes none */
		int64_t reserve = l->fill_factor >= 100 ? (x->clustered ? ps / 16 : 0)
							: ps * (100 - l->fill_factor) / 100;
		int64_t leaf, nonleaf = 0;

		if (x->leaf_bytes >= 0) {
			int64_t avg = x->leaf_recs > 0 ? x->leaf_bytes / x->leaf_recs : 0;
			/* a page closes when the next record does not fit: on
			 * average half a record is left unused */
			int64_t per_page = cap - reserve - avg / 2;
			if (per_page < avg)
				per_page = avg;
			if (per_page < 1)
				per_page = 1;
			leaf = x->leaf_bytes > 0 ? div_up(x->leaf_bytes, per_page) : 1;
			/* node pointers: one per child page, as large as today's */
			int64_t children = x->leaf_pages + x->nonleaf_pages - 1;
			int64_t ptr = x->nonleaf_pages > 0 && children > 0
					      ? x->nonleaf_bytes / children
					      : (avg > 0 ? avg : 16);
			for (int64_t level = leaf; level > 1;) {
				level = div_up(level * ptr,
					       cap - reserve > ptr ? cap - reserve : ptr);
				nonleaf += level;
			}
		} else {
			leaf = x->leaf_pages > 0 ? x->leaf_pages : 1;
			nonleaf = x->nonleaf_pages >= 0 ? x->nonleaf_pages
				  : leaf > 1            ? div_up(leaf, 100)
							: 0;
		}
		x->pages_after = segment_reserved(leaf + x->blob_pages, ext) +
				 segment_reserved(nonleaf, ext);
		total += x->pages_after;
	}
	/* the file grows an extent at a time, four from 32 extents on
	 * (fsp_get_pages_to_extend_ibd), and holds an extent descriptor page
	 * pair every page_size pages */
	total += 2 * (total / ps);
	int64_t threshold = 32 * ext < ps ? 32 * ext : ps;
	if (total <= threshold)
		return div_up(total, ext) * ext;
	return threshold + div_up(total - threshold, 4 * ext) * 4 * ext;
}

void probe_mysql_scan_free(struct probe_mysql_scan *s)
{
	if (!s)
		return;
	free(s->ix);
	s->ix = NULL;
	s->nix = 0;
}

static struct probe_mysql_index_space *index_entry(struct probe_mysql_scan *s, uint64_t id,
						   size_t *cap)
{
	for (size_t i = 0; i < s->nix; i++)
		if (s->ix[i].index_id == id)
			return &s->ix[i];
	if (s->nix >= 4096)
		return NULL; /* more index ids than any table has: not a tablespace */
	if (s->nix == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		void *p = realloc(s->ix, ncap * sizeof(*s->ix));
		if (!p)
			return NULL;
		s->ix = p;
		*cap = ncap;
	}
	struct probe_mysql_index_space *x = &s->ix[s->nix++];
	memset(x, 0, sizeof(*x));
	x->index_id = id;
	return x;
}

int probe_mysql_scan_tablespace(probe_mysql_read_fn rd, void *rctx, int64_t file_size,
				int64_t page_size, int64_t space_id, struct probe_mysql_scan *ret,
				char *err, size_t errlen)
{
	unsigned char hdr[XDES_ARR_OFFSET], *xdes = NULL;
	int64_t ext, xdes_size, nent, free_limit, blob = 0, bad = 0;
	size_t cap = 0;
	int rc = 0;

	memset(ret, 0, sizeof(*ret));
	if (page_size != 4096 && page_size != 8192 && page_size != 16384 && page_size != 32768 &&
	    page_size != 65536) {
		ep_snprintf(err, errlen, "page size %lld is not an InnoDB page size",
			    (long long)page_size);
		return -EINVAL;
	}
	if (file_size < 4 * page_size || file_size % page_size) {
		ep_snprintf(err, errlen, "%lld bytes is not a whole tablespace of %lld-byte pages",
			    (long long)file_size, (long long)page_size);
		return -EINVAL;
	}
	ext = extent_pages(page_size);
	xdes_size = XDES_BITMAP + ext * 2 / 8;
	nent = page_size / ext;
	ret->file_pages = file_size / page_size;
	if ((rc = rd(rctx, 0, hdr, sizeof(hdr))) < 0) {
		ep_snprintf(err, errlen, "cannot read the tablespace header");
		return rc;
	}
	ret->bytes_read += (int64_t)sizeof(hdr);
	if (be16(hdr + FIL_PAGE_TYPE) != T_FSP_HDR) {
		ep_snprintf(err, errlen,
			    "page 0 is not a tablespace header (type %u): encrypted or "
			    "not an InnoDB file",
			    be16(hdr + FIL_PAGE_TYPE));
		return -EINVAL;
	}
	if (space_id >= 0 && be32(hdr + PAGE_HEADER) != (uint32_t)space_id) {
		ep_snprintf(err, errlen,
			    "the file belongs to tablespace %u, not %lld: another server's file",
			    be32(hdr + PAGE_HEADER), (long long)space_id);
		return -EINVAL;
	}
	free_limit = be32(hdr + FSP_FREE_LIMIT);
	if (free_limit > ret->file_pages)
		free_limit = ret->file_pages;
	size_t xlen = (size_t)(XDES_ARR_OFFSET + nent * xdes_size);
	if (!(xdes = malloc(xlen)))
		return -ENOMEM;
	for (int64_t xp = 0; xp < free_limit; xp += page_size) {
		if ((rc = rd(rctx, (uint64_t)(xp * page_size), xdes, xlen)) < 0) {
			ep_snprintf(err, errlen, "cannot read extent descriptor page %lld",
				    (long long)xp);
			goto out;
		}
		ret->bytes_read += (int64_t)xlen;
		for (int64_t e = 0; e < nent; e++) {
			const unsigned char *d = xdes + XDES_ARR_OFFSET + e * xdes_size;
			uint32_t state = be32(d + XDES_STATE);
			for (int64_t i = 0; i < ext; i++) {
				int64_t p = xp + e * ext + i;
				unsigned char ph[PAGE_HEADER_END];
				if (p >= free_limit)
					break;
				bool used = state > XDES_FREE && state <= XDES_FSEG_FRAG &&
					    !((d[XDES_BITMAP + (2 * i) / 8] >> ((2 * i) % 8)) & 1);
				if (!used) {
					ret->free_pages++;
					continue;
				}
				ret->used_pages++;
				if ((rc = rd(rctx, (uint64_t)(p * page_size), ph, sizeof(ph))) <
				    0) {
					ep_snprintf(err, errlen, "cannot read page %lld",
						    (long long)p);
					goto out;
				}
				ret->bytes_read += (int64_t)sizeof(ph);
				uint16_t type = be16(ph + FIL_PAGE_TYPE);
				if (type == T_BLOB || type == T_ZBLOB || type == T_ZBLOB2) {
					blob++;
					continue;
				}
				if (type != T_INDEX && type != T_RTREE && type != T_INSTANT) {
					if (type > T_XDES && type != T_ALLOCATED)
						bad++;
					ret->other_pages++;
					continue;
				}
				const unsigned char *h = ph + PAGE_HEADER;
				int64_t slots = be16(h), heap_top = be16(h + 2),
					n_heap = be16(h + 4);
				int64_t garbage = be16(h + 8), recs = be16(h + 16);
				int64_t level = be16(h + 26);
				int64_t sup = (n_heap & 0x8000) ? PAGE_NEW_SUPREMUM_END
								: PAGE_OLD_SUPREMUM_END;
				if (heap_top < sup ||
				    heap_top > page_size - FIL_TRAILER - 2 * slots ||
				    garbage > heap_top - sup || level > 64 ||
				    recs > page_size / 5) {
					bad++;
					ret->other_pages++;
					continue;
				}
				struct probe_mysql_index_space *x =
					index_entry(ret, be64(h + 28), &cap);
				if (!x) {
					rc = ret->nix >= 4096 ? -EINVAL : -ENOMEM;
					ep_snprintf(err, errlen, "too many index ids");
					goto out;
				}
				int64_t bytes = heap_top - sup - garbage + 2 * slots;
				if (level == 0) {
					x->leaf_pages++;
					x->leaf_bytes += bytes;
					x->leaf_recs += recs;
				} else {
					x->nonleaf_pages++;
					x->nonleaf_bytes += bytes;
				}
			}
		}
	}
	/* encrypted or page-compressed pages do not show index headers */
	if (bad > ret->used_pages / 100 + 1) {
		ep_snprintf(err, errlen,
			    "%lld of %lld used pages have no readable index header "
			    "(encrypted or page-compressed tablespace)",
			    (long long)bad, (long long)ret->used_pages);
		rc = -EINVAL;
		goto out;
	}
	/* externally stored columns live in the clustered index's leaf
	 * segment; the clustered index is the table's first (lowest id) */
	if (ret->nix) {
		size_t c = 0;
		for (size_t i = 1; i < ret->nix; i++)
			if (ret->ix[i].index_id < ret->ix[c].index_id)
				c = i;
		ret->ix[c].clustered = true;
		ret->ix[c].blob_pages = blob;
	}
out:
	free(xdes);
	if (rc < 0)
		probe_mysql_scan_free(ret);
	return rc;
}
