/* erpulse-collector tls init --name HOST [--dir DIR] (cli.h; docs/collector.md
 * "TLS from the first minute"): a private CA and a server certificate signed
 * by it, with GnuTLS (what libmicrohttpd serves TLS with), and what the agent
 * needs: the CA file's content for ca_file, and the pin for pinned_pubkey. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "collector/cli.h"
#include "erpulse/crypto.h"
#include "erpulse/util.h"

#define CA_DAYS     3650
#define SERVER_DAYS 825

/* Writes a PEM export of what fn exports, mode 0600 or 0644, never over an
 * existing file. */
static int write_new(const char *dir, const char *name, const gnutls_datum_t *d, mode_t mode)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		fprintf(stderr, "erpulse-collector: cannot create '%s': %m%s\n", path,
			errno == EEXIST ? " (tls init never overwrites: move it away first)" : "");
		return -1;
	}
	ssize_t n = write(fd, d->data, d->size);
	if (n != (ssize_t)d->size || fsync(fd) < 0) {
		fprintf(stderr, "erpulse-collector: cannot write '%s': %m\n", path);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int new_key(gnutls_x509_privkey_t *key)
{
	if (gnutls_x509_privkey_init(key) < 0)
		return -1;
	return gnutls_x509_privkey_generate(*key, GNUTLS_PK_ECDSA,
					    GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0
		       ? -1
		       : 0;
}

static int new_cert(gnutls_x509_crt_t *crt, gnutls_x509_privkey_t key, const char *cn, int days)
{
	unsigned char serial[16];
	time_t now = time(NULL);
	if (gnutls_x509_crt_init(crt) < 0)
		return -1;
	ep_random_bytes(serial, sizeof(serial));
	serial[0] &= 0x7f; /* a positive integer */
	if (gnutls_x509_crt_set_version(*crt, 3) < 0 ||
	    gnutls_x509_crt_set_serial(*crt, serial, sizeof(serial)) < 0 ||
	    gnutls_x509_crt_set_activation_time(*crt, now - 3600) < 0 ||
	    gnutls_x509_crt_set_expiration_time(*crt, now + (time_t)days * 86400) < 0 ||
	    gnutls_x509_crt_set_key(*crt, key) < 0 ||
	    gnutls_x509_crt_set_dn_by_oid(*crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
					  (unsigned)strlen(cn)) < 0)
		return -1;
	return 0;
}

int coll_cli_tls(int argc, char **argv)
{
	const char *name = NULL, *dir = EP_SYSCONFDIR "/erpulse";
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
			name = argv[++i];
		else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			dir = argv[++i];
		else
			name = NULL, argc = 0;
	}
	if (argc < 1 || strcmp(argv[0], "init") != 0 || !name || !name[0] || strlen(name) > 253) {
		fprintf(stderr, "usage: erpulse-collector tls init --name HOST [--dir DIR]\n");
		return 2;
	}
	gnutls_x509_privkey_t ca_key = NULL, key = NULL;
	gnutls_x509_crt_t ca = NULL, crt = NULL;
	gnutls_datum_t d[4] = {{NULL, 0}, {NULL, 0}, {NULL, 0}, {NULL, 0}};
	unsigned char id[32], addr[16];
	size_t id_len = sizeof(id);
	char pin[64], cn[300];
	int rc = 1;
	snprintf(cn, sizeof(cn), "erpulse private CA for %s", name);
	if (gnutls_global_init() < 0)
		return 1;
	if (new_key(&ca_key) < 0 || new_cert(&ca, ca_key, cn, CA_DAYS) < 0 ||
	    gnutls_x509_crt_set_basic_constraints(ca, 1, 0) < 0 ||
	    gnutls_x509_crt_set_key_usage(ca, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN) < 0 ||
	    gnutls_x509_crt_sign2(ca, ca, ca_key, GNUTLS_DIG_SHA256, 0) < 0)
		goto fail;
	if (new_key(&key) < 0 || new_cert(&crt, key, name, SERVER_DAYS) < 0 ||
	    gnutls_x509_crt_set_basic_constraints(crt, 0, -1) < 0 ||
	    gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE) < 0 ||
	    gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0) < 0)
		goto fail;
	int r;
	if (inet_pton(AF_INET, name, addr) == 1)
		r = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, addr, 4,
							 GNUTLS_FSAN_SET);
	else if (inet_pton(AF_INET6, name, addr) == 1)
		r = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, addr, 16,
							 GNUTLS_FSAN_SET);
	else
		r = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, name,
							 (unsigned)strlen(name), GNUTLS_FSAN_SET);
	if (r < 0 || gnutls_x509_crt_sign2(crt, ca, ca_key, GNUTLS_DIG_SHA256, 0) < 0)
		goto fail;
	if (gnutls_x509_crt_export2(ca, GNUTLS_X509_FMT_PEM, &d[0]) < 0 ||
	    gnutls_x509_privkey_export2(ca_key, GNUTLS_X509_FMT_PEM, &d[1]) < 0 ||
	    gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d[2]) < 0 ||
	    gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &d[3]) < 0 ||
	    gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, id, &id_len) < 0)
		goto fail;
	if (write_new(dir, "collector-ca.pem", &d[0], 0644) < 0 ||
	    write_new(dir, "collector-ca.key", &d[1], 0600) < 0 ||
	    write_new(dir, "collector.crt", &d[2], 0644) < 0 ||
	    write_new(dir, "collector.key", &d[3], 0600) < 0)
		goto out;
	ep_base64_encode(id, id_len, pin, sizeof(pin));
	printf("Wrote %s/collector.crt and collector.key (server, %d days) and the private CA\n"
	       "%s/collector-ca.pem, collector-ca.key (%d days; keep the .key offline).\n\n"
	       "collector.conf [server]:\n  tls_cert = %s/collector.crt\n"
	       "  tls_key = %s/collector.key\n"
	       "(the key must be readable by the service user: chown erpulse-collector "
	       "%s/collector.key)\n\n"
	       "On each agent, either trust the CA (agent.conf: ca_file = "
	       "/etc/erpulse/collector-ca.pem, with this content):\n\n%.*s\n"
	       "or pin the server key (agent.conf: pinned_pubkey = sha256//%s)\n"
	       "and connect to https://%s:PORT (the name in the certificate).\n",
	       dir, SERVER_DAYS, dir, CA_DAYS, dir, dir, dir, (int)d[0].size,
	       (const char *)d[0].data, pin, name);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "erpulse-collector: tls init: GnuTLS could not make the certificates\n");
out:
	for (size_t i = 0; i < 4; i++)
		gnutls_free(d[i].data);
	gnutls_x509_crt_deinit(ca);
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_privkey_deinit(ca_key);
	gnutls_x509_privkey_deinit(key);
	gnutls_global_deinit();
	return rc;
}
