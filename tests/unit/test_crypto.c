/* lib/crypto.c: Ed25519 against RFC 8032 vectors, key files on disk with
 * real permissions, base64 against RFC 4648 vectors, BLAKE2b-256 against
 * known digests. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "erpulse/crypto.h"
#include "erpulse/util.h"

static char tmpdir[256];

static int setup(void **state)
{
	const char *base = getenv("TMPDIR");

	(void)state;
	if (ep_crypto_init() != 0)
		return -1;
	snprintf(tmpdir, sizeof(tmpdir), "%s/test_crypto.XXXXXX", base && *base ? base : "/tmp");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;

	(void)state;
	if (d) {
		while ((e = readdir(d)) != NULL) {
			char p[600];
			if (e->d_name[0] == '.' &&
			    (e->d_name[1] == '\0' || strcmp(e->d_name, "..") == 0))
				continue;
			snprintf(p, sizeof(p), "%s/%s", tmpdir, e->d_name);
			if (unlink(p) != 0)
				rmdir(p);
		}
		closedir(d);
	}
	rmdir(tmpdir);
	return 0;
}

static void unhex(const char *hex, unsigned char *out, size_t n)
{
	size_t len = 0;

	assert_int_equal(sodium_hex2bin(out, n, hex, strlen(hex), NULL, &len, NULL), 0);
	assert_int_equal(len, n);
}

static void write_raw(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void key_path(const char *name, char *out, size_t size)
{
	snprintf(out, size, "%s/%s", tmpdir, name);
}

/* ---- sign / verify ---- */

static void test_init_twice(void **state)
{
	(void)state;
	assert_int_equal(ep_crypto_init(), 0);
	assert_int_equal(ep_crypto_init(), 0);
}

/* RFC 8032 section 7.1, TEST 1 and TEST 2 */
static void test_rfc8032_vectors(void **state)
{
	static const struct {
		const char *seed, *pk, *msg, *sig;
	} v[] = {
		{"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
		 "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
		 "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc"
		 "6"
		 "1e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
		{"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
		 "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
		 "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e4"
		 "5"
		 "8f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
	};
	char path[512];

	(void)state;
	for (size_t i = 0; i < EP_ARRAY_SIZE(v); i++) {
		unsigned char seed[32], pk[32], sig[64], msg[8], expect[64];
		size_t mlen = strlen(v[i].msg) / 2;
		struct ep_keypair kp, loaded;
		char err[512];

		unhex(v[i].seed, seed, 32);
		unhex(v[i].pk, pk, 32);
		unhex(v[i].sig, expect, 64);
		if (mlen)
			unhex(v[i].msg, msg, mlen);
		assert_int_equal(
			crypto_sign_ed25519_seed_keypair(kp.public_key, kp.secret_key, seed), 0);
		assert_memory_equal(kp.public_key, pk, 32);

		/* through the key file, so the format round-trips a known key */
		key_path("rfc.key", path, sizeof(path));
		assert_int_equal(ep_key_save(path, &kp), 0);
		assert_int_equal(ep_key_load(path, &loaded, err, sizeof(err)), 0);
		assert_memory_equal(loaded.public_key, pk, 32);
		assert_memory_equal(loaded.secret_key, kp.secret_key, 64);

		ep_sign(&loaded, msg, mlen, sig);
		assert_memory_equal(sig, expect, 64);
		assert_int_equal(ep_verify(pk, msg, mlen, sig), 0);
		ep_key_wipe(&loaded);
		assert_true(sodium_is_zero((unsigned char *)&loaded, sizeof(loaded)));
	}
}

static void test_sign_verify_tamper(void **state)
{
	struct ep_keypair kp, other;
	unsigned char sig[EP_SIGNATURE_BYTES], bad[EP_SIGNATURE_BYTES];
	char body[] = "{\"agent_id\":\"abc\",\"seq\":1}";
	size_t len = strlen(body);

	(void)state;
	assert_int_equal(ep_key_generate(&kp), 0);
	assert_int_equal(ep_key_generate(&other), 0);
	assert_memory_not_equal(kp.public_key, other.public_key, EP_PUBLIC_KEY_BYTES);
	ep_sign(&kp, body, len, sig);
	assert_int_equal(ep_verify(kp.public_key, body, len, sig), 0);

	/* every bit of the signature matters */
	for (size_t i = 0; i < EP_SIGNATURE_BYTES; i++) {
		for (int bit = 0; bit < 8; bit += 3) {
			memcpy(bad, sig, sizeof(bad));
			bad[i] ^= (unsigned char)(1u << bit);
			if (ep_verify(kp.public_key, body, len, bad) != -EBADMSG)
				fail_msg("flipped bit %d of signature byte %zu verified", bit, i);
		}
	}
	/* tampered body: one byte changed, one byte dropped, one byte added */
	body[5] ^= 1;
	assert_int_equal(ep_verify(kp.public_key, body, len, sig), -EBADMSG);
	body[5] ^= 1;
	assert_int_equal(ep_verify(kp.public_key, body, len - 1, sig), -EBADMSG);
	assert_int_equal(ep_verify(kp.public_key, body, len + 1, sig), -EBADMSG);
	/* wrong key */
	assert_int_equal(ep_verify(other.public_key, body, len, sig), -EBADMSG);
	/* all-zero signature and key */
	memset(bad, 0, sizeof(bad));
	assert_int_equal(ep_verify(kp.public_key, body, len, bad), -EBADMSG);
	unsigned char zero_pk[EP_PUBLIC_KEY_BYTES] = {0};
	assert_int_equal(ep_verify(zero_pk, body, len, sig), -EBADMSG);
	/* untouched still verifies */
	assert_int_equal(ep_verify(kp.public_key, body, len, sig), 0);
	ep_key_wipe(&kp);
	ep_key_wipe(&other);
	ep_key_wipe(NULL);
}

/* ---- key files ---- */

static void test_key_save_load(void **state)
{
	struct ep_keypair kp, loaded;
	char path[512], err[512], *text = NULL, b64[128];
	struct stat st;
	size_t len;
	unsigned char sig[EP_SIGNATURE_BYTES];

	(void)state;
	assert_int_equal(ep_key_generate(&kp), 0);
	key_path("agent.key", path, sizeof(path));
	mode_t old = umask(0); /* the file must be 0600 even with a lax umask */
	assert_int_equal(ep_key_save(path, &kp), 0);
	umask(old);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	/* documented format: header line, base64 of the 64-byte secret key */
	assert_int_equal(ep_read_file(path, 4096, &text, &len), 0);
	assert_int_equal(ep_base64_encode(kp.secret_key, 64, b64, sizeof(b64)), 0);
	assert_int_equal(len, strlen("erpulse-ed25519-secret-key-v1\n") + 88 + 1);
	assert_true(strncmp(text, "erpulse-ed25519-secret-key-v1\n", 30) == 0);
	assert_memory_equal(text + 30, b64, 88);
	assert_int_equal(text[len - 1], '\n');
	free(text);

	memset(err, 'x', sizeof(err));
	assert_int_equal(ep_key_load(path, &loaded, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_memory_equal(&loaded, &kp, sizeof(kp));
	ep_sign(&loaded, "m", 1, sig);
	assert_int_equal(ep_verify(kp.public_key, "m", 1, sig), 0);

	/* 0400 is fine too; save replaces an existing file */
	assert_int_equal(chmod(path, 0400), 0);
	assert_int_equal(ep_key_load(path, &loaded, err, sizeof(err)), 0);
	assert_int_equal(ep_key_save(path, &kp), 0);
	assert_int_equal(ep_key_load(path, &loaded, NULL, 0), 0); /* err is optional */
	ep_key_wipe(&kp);
	ep_key_wipe(&loaded);
}

static void test_key_permissions(void **state)
{
	static const mode_t refused[] = {0644, 0640, 0604, 0660, 0606, 0610, 0601, 0666, 0777};
	struct ep_keypair kp, loaded;
	char path[512], err[1200], expect[1200], b64[128];

	(void)state;
	assert_int_equal(ep_key_generate(&kp), 0);
	assert_int_equal(ep_base64_encode(kp.secret_key, 64, b64, sizeof(b64)), 0);
	key_path("perm.key", path, sizeof(path));
	assert_int_equal(ep_key_save(path, &kp), 0);
	for (size_t i = 0; i < EP_ARRAY_SIZE(refused); i++) {
		assert_int_equal(chmod(path, refused[i]), 0);
		memset(&loaded, 0xAA, sizeof(loaded));
		assert_int_equal(ep_key_load(path, &loaded, err, sizeof(err)), -EPERM);
		snprintf(expect, sizeof(expect),
			 "key file '%s' has mode %04o: it must not be accessible by group or "
			 "others; run: chmod 600 '%s'",
			 path, (unsigned)refused[i], path);
		assert_string_equal(err, expect);
		assert_null(strstr(err, b64));
		/* nothing was read into the output */
		unsigned char aa[sizeof(loaded)];
		memset(aa, 0xAA, sizeof(aa));
		assert_memory_equal(&loaded, aa, sizeof(aa));
	}
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(ep_key_load(path, &loaded, err, sizeof(err)), 0);
	assert_memory_equal(&loaded, &kp, sizeof(kp));
	ep_key_wipe(&kp);
	ep_key_wipe(&loaded);
}

static void expect_invalid(const char *path, const char *data, size_t len, const char *needle,
			   const char *secret_b64)
{
	struct ep_keypair loaded;
	char err[512];
	int r;

	write_raw(path, data, len, 0600);
	r = ep_key_load(path, &loaded, err, sizeof(err));
	if (r != -EINVAL)
		fail_msg("%zu-byte file: expected -EINVAL, got %d (%s)", len, r, err);
	if (!strstr(err, path) || !strstr(err, needle))
		fail_msg("message '%s' does not name the path and '%s'", err, needle);
	/* the message never carries key material, not even a prefix */
	if (secret_b64) {
		char part[17];
		memcpy(part, secret_b64, 16);
		part[16] = '\0';
		assert_null(strstr(err, part));
	}
}

static void test_key_malformed(void **state)
{
	struct ep_keypair kp, loaded;
	char path[512], good[256], b64[128], buf[512], err[512];
	unsigned char garbage[200], sk[64];
	size_t glen;

	(void)state;
	assert_int_equal(ep_key_generate(&kp), 0);
	key_path("bad.key", path, sizeof(path));
	assert_int_equal(ep_base64_encode(kp.secret_key, 64, b64, sizeof(b64)), 0);
	snprintf(good, sizeof(good), "erpulse-ed25519-secret-key-v1\n%s\n", b64);
	glen = strlen(good);

	expect_invalid(path, "", 0, "empty", b64);
	expect_invalid(path, good, 10, "first line", b64);      /* inside the header */
	expect_invalid(path, good, 29, "first line", b64);      /* header, no newline */
	expect_invalid(path, good, 30, "truncated", b64);       /* header only */
	expect_invalid(path, good, 31, "truncated", b64);       /* one base64 char */
	expect_invalid(path, good, 30 + 44, "truncated", b64);  /* half the key */
	expect_invalid(path, good, 30 + 84, "truncated", b64);  /* 63 bytes' worth */
	expect_invalid(path, good, glen - 2, "truncated", b64); /* last char missing */

	/* whitespace, CRLF, extra lines, another header */
	snprintf(buf, sizeof(buf), "erpulse-ed25519-secret-key-v1\r\n%s\r\n", b64);
	expect_invalid(path, buf, strlen(buf), "first line", b64);
	snprintf(buf, sizeof(buf), "erpulse-ed25519-secret-key-v1\n%s\r\n", b64);
	expect_invalid(path, buf, strlen(buf), "malformed", b64);
	snprintf(buf, sizeof(buf), "erpulse-ed25519-secret-key-v1\n%s\n\n", b64);
	expect_invalid(path, buf, strlen(buf), "malformed", b64);
	snprintf(buf, sizeof(buf), "erpulse-ed25519-secret-key-v1\n %s\n", b64);
	expect_invalid(path, buf, strlen(buf), "malformed", b64);
	snprintf(buf, sizeof(buf), "erpulse-ed25519-secret-key-v2\n%s\n", b64);
	expect_invalid(path, buf, strlen(buf), "first line", b64);
	snprintf(buf, sizeof(buf), "%s\n", b64);
	expect_invalid(path, buf, strlen(buf), "first line", b64);

	/* random garbage, and a huge file */
	randombytes_buf(garbage, sizeof(garbage));
	expect_invalid(path, (const char *)garbage, sizeof(garbage), "malformed", b64);
	char *huge = malloc(10000);
	assert_non_null(huge);
	memset(huge, 'A', 10000);
	memcpy(huge, good, glen);
	expect_invalid(path, huge, 10000, "malformed", b64);
	free(huge);

	/* well-formed base64 of the wrong size (32-byte seed only) */
	char b64seed[64];
	assert_int_equal(ep_base64_encode(kp.secret_key, 32, b64seed, sizeof(b64seed)), 0);
	snprintf(buf, sizeof(buf), "erpulse-ed25519-secret-key-v1\n%s\n", b64seed);
	expect_invalid(path, buf, strlen(buf), "64-byte", b64);

	/* public half that does not belong to the seed */
	memcpy(sk, kp.secret_key, 64);
	sk[40] ^= 0x01;
	char b64bad[128];
	assert_int_equal(ep_base64_encode(sk, 64, b64bad, sizeof(b64bad)), 0);
	snprintf(buf, sizeof(buf), "erpulse-ed25519-secret-key-v1\n%s\n", b64bad);
	expect_invalid(path, buf, strlen(buf), "does not match", b64);
	sodium_memzero(sk, sizeof(sk));

	/* the good file, without its final newline, is accepted */
	write_raw(path, good, glen - 1, 0600);
	assert_int_equal(ep_key_load(path, &loaded, err, sizeof(err)), 0);
	assert_memory_equal(&loaded, &kp, sizeof(kp));

	/* missing file, directory */
	key_path("missing.key", path, sizeof(path));
	assert_int_equal(ep_key_load(path, &loaded, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, path));
	assert_int_equal(ep_key_load(tmpdir, &loaded, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
	ep_key_wipe(&kp);
	ep_key_wipe(&loaded);
}

/* ---- base64 ---- */

static void test_base64_vectors(void **state)
{
	/* RFC 4648 section 10 */
	static const char *const v[][2] = {
		{"", ""},
		{"f", "Zg=="},
		{"fo", "Zm8="},
		{"foo", "Zm9v"},
		{"foob", "Zm9vYg=="},
		{"fooba", "Zm9vYmE="},
		{"foobar", "Zm9vYmFy"},
	};
	char out[64];
	unsigned char dec[64];
	size_t n;

	(void)state;
	for (size_t i = 0; i < EP_ARRAY_SIZE(v); i++) {
		size_t len = strlen(v[i][0]);
		assert_int_equal(ep_base64_encode(v[i][0], len, out, sizeof(out)), 0);
		assert_string_equal(out, v[i][1]);
		n = 99;
		assert_int_equal(ep_base64_decode(v[i][1], strlen(v[i][1]), dec, sizeof(dec), &n),
				 0);
		assert_int_equal(n, len);
		assert_memory_equal(dec, v[i][0], len);
	}
	/* both alphabet ends: '+' and '/' (never '-' and '_') */
	unsigned char hi[3] = {0xfb, 0xff, 0xbf};
	assert_int_equal(ep_base64_encode(hi, 3, out, sizeof(out)), 0);
	assert_string_equal(out, "+/+/");
	/* the input length is honoured, the string need not be NUL-terminated */
	assert_int_equal(ep_base64_decode("Zm9vXXXX", 4, dec, sizeof(dec), &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(dec, "foo", 3);
}

static void test_base64_bad(void **state)
{
	static const char *const bad[] = {
		"Zg",       /* no padding */
		"Zg=",      /* short padding */
		"Zg===",    /* too much */
		"Zm9v====", /* padding after a full quantum */
		"Zg==Zg==", /* padding in the middle */
		"Zh==",     /* non-zero leftover bits */
		"Zm9=",     /* non-zero leftover bits */
		"Zm9v\n",   /* trailing newline */
		"Zm 9v",    /* space */
		" Zm9v",
		"Zm9v\r\n",
		"Zm\t9v",
		"-_-_",     /* URL-safe alphabet */
		"Zm9v*A==", /* not base64 */
		"Zm9v\xc3\xa9"
		"A=",
		"\x80\x80\x80\x80", /* high bytes: libsodium 1.0.18 reads them as '/' */
		"=",
		"====",
		"Z",
		"Zm9vY",
		"Zm9vY==",
	};
	unsigned char dec[64];
	size_t n = 77;

	(void)state;
	for (size_t i = 0; i < EP_ARRAY_SIZE(bad); i++) {
		if (ep_base64_decode(bad[i], strlen(bad[i]), dec, sizeof(dec), &n) != -EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
	}
	assert_int_equal(n, 77);
	/* an embedded NUL is not base64 */
	assert_int_equal(ep_base64_decode("Zm\0v", 4, dec, sizeof(dec), &n), -EINVAL);
}

static void test_base64_sizes(void **state)
{
	unsigned char in[100], dec[100];
	char out[200];
	size_t n;

	(void)state;
	/* exact output sizes: 4*ceil(len/3) + NUL */
	assert_int_equal(ep_base64_encode("abc", 3, out, 5), 0);
	assert_int_equal(ep_base64_encode("abc", 3, out, 4), -ENOSPC);
	assert_int_equal(ep_base64_encode("abcd", 4, out, 9), 0);
	assert_int_equal(ep_base64_encode("abcd", 4, out, 8), -ENOSPC);
	assert_int_equal(ep_base64_encode("", 0, out, 1), 0);
	assert_string_equal(out, "");
	assert_int_equal(ep_base64_encode("", 0, out, 0), -ENOSPC);
	/* the header's size constants are right */
	unsigned char pk[EP_PUBLIC_KEY_BYTES] = {0}, sig[EP_SIGNATURE_BYTES] = {0};
	char pk64[EP_PUBLIC_KEY_B64_SIZE], sig64[EP_SIGNATURE_B64_SIZE];
	assert_int_equal(ep_base64_encode(pk, sizeof(pk), pk64, sizeof(pk64)), 0);
	assert_int_equal(strlen(pk64), EP_PUBLIC_KEY_B64_SIZE - 1);
	assert_int_equal(ep_base64_encode(sig, sizeof(sig), sig64, sizeof(sig64)), 0);
	assert_int_equal(strlen(sig64), EP_SIGNATURE_B64_SIZE - 1);
	assert_int_equal(ep_base64_encode(sig, sizeof(sig), sig64, sizeof(sig64) - 1), -ENOSPC);

	/* decode into a buffer one byte too small */
	assert_int_equal(ep_base64_decode("Zm9vYmFy", 8, dec, 5, &n), -ENOSPC);
	assert_int_equal(ep_base64_decode("Zm9vYmFy", 8, dec, 6, &n), 0);
	assert_int_equal(n, 6);
	assert_int_equal(ep_base64_decode("", 0, dec, 0, &n), 0);
	assert_int_equal(n, 0);

	/* random round trips of every length 0..99 */
	for (size_t len = 0; len < sizeof(in); len++) {
		randombytes_buf(in, len);
		assert_int_equal(ep_base64_encode(in, len, out, sizeof(out)), 0);
		assert_int_equal(strlen(out), (len + 2) / 3 * 4);
		assert_int_equal(ep_base64_decode(out, strlen(out), dec, sizeof(dec), &n), 0);
		assert_int_equal(n, len);
		assert_memory_equal(dec, in, len);
	}
}

/* ---- misc ---- */

static void test_const_eq(void **state)
{
	unsigned char a[64], b[64];

	(void)state;
	randombytes_buf(a, sizeof(a));
	memcpy(b, a, sizeof(b));
	assert_true(ep_const_eq(a, b, sizeof(a)));
	assert_true(ep_const_eq(a, b, 0));
	for (size_t i = 0; i < sizeof(a); i++) {
		b[i] ^= 0x80;
		assert_false(ep_const_eq(a, b, sizeof(a)));
		b[i] ^= 0x80;
	}
}

static void test_random_hex(void **state)
{
	char a[65], b[65], small[32];

	(void)state;
	assert_int_equal(ep_random_hex(16, a, 33), 0);
	assert_int_equal(strlen(a), 32);
	assert_int_equal(strspn(a, "0123456789abcdef"), 32);
	assert_int_equal(ep_random_hex(16, b, sizeof(b)), 0);
	assert_string_not_equal(a, b);
	assert_int_equal(ep_random_hex(16, small, 32), -ENOSPC);
	assert_int_equal(ep_random_hex(32, a, sizeof(a)), 0); /* more than one chunk */
	assert_int_equal(strlen(a), 64);
	assert_int_equal(strspn(a, "0123456789abcdef"), 64);
	assert_int_equal(ep_random_hex(0, small, 1), 0);
	assert_string_equal(small, "");
	assert_int_equal(ep_random_hex(1, small, 0), -ENOSPC);

	/* ep_random_bytes fills the buffer (not all zero in 64 bytes) */
	unsigned char r[64] = {0};
	ep_random_bytes(r, sizeof(r));
	assert_false(sodium_is_zero(r, sizeof(r)));
}

static void test_hash_secret(void **state)
{
	char out[65];

	(void)state;
	/* BLAKE2b with a 32-byte digest, no key (as Python's
	 * hashlib.blake2b(digest_size=32) computes it) */
	ep_hash_secret("", out);
	assert_string_equal(out,
			    "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
	ep_hash_secret("abc", out);
	assert_string_equal(out,
			    "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_twice),         cmocka_unit_test(test_rfc8032_vectors),
		cmocka_unit_test(test_sign_verify_tamper), cmocka_unit_test(test_key_save_load),
		cmocka_unit_test(test_key_permissions),    cmocka_unit_test(test_key_malformed),
		cmocka_unit_test(test_base64_vectors),     cmocka_unit_test(test_base64_bad),
		cmocka_unit_test(test_base64_sizes),       cmocka_unit_test(test_const_eq),
		cmocka_unit_test(test_random_hex),         cmocka_unit_test(test_hash_secret),
	};

	return cmocka_run_group_tests_name("crypto", tests, setup, teardown);
}
