/* InnoDB's on-disk names: MariaDB and MySQL write a database or table name
 * into file names and into INFORMATION_SCHEMA.INNODB_SYS_TABLESPACES.NAME
 * (MySQL 8: INNODB_TABLESPACES) through the "filename" character set
 * (my_charset_filename): [0-9A-Za-z_] pass, letters of some scripts become
 * @ and two code characters, every other character @ and four lowercase hex
 * digits of its code point; Windows device names (con, aux, com1, ...) get
 * "@@@" appended. So ERPNext's `tabGL Entry` is tabGL@0020Entry on disk. */
#ifndef ERPULSE_PROBES_ODBC_MYSQL_FILENAME_H
#define ERPULSE_PROBES_ODBC_MYSQL_FILENAME_H

#include <stddef.h>
#include <stdint.h>

/* Writes the on-disk form of one identifier (UTF-8, len bytes, from the
 * server: outside input) to out, NUL-terminated. 0, -ENOSPC (out too small;
 * out is then ""), -EILSEQ (not UTF-8, or a character outside the BMP, which
 * MariaDB/MySQL identifiers cannot hold), -EINVAL (empty or NUL inside). */
int probe_mysql_filename_encode(const char *ident, size_t len, char *out, size_t outlen);

/* The generated table of two-character codes (mysql_filename_codes.c). */
extern const uint32_t probe_mysql_filename_codes[];
extern const size_t probe_mysql_filename_ncodes;

#endif
