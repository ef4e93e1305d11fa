/* Ed25519 keys and signatures, base64, constant-time compare, random ids and
 * secret hashes, all through libsodium. The key file format is documented in
 * docs/crypto.md. Nothing here ever prints or logs key material. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "erpulse/crypto.h"
#include "erpulse/util.h"

#define KEY_HEADER "erpulse-ed25519-secret-key-v1"
/* header + '\n' + 88 base64 + '\n'; anything larger is not ours */
#define KEY_FILE_MAX 4096

int ep_crypto_init(void)
{
	return sodium_init() < 0 ? -EIO : 0;
}

int ep_key_generate(struct ep_keypair *ret)
{
	struct ep_keypair kp;

	if (crypto_sign_ed25519_keypair(kp.public_key, kp.secret_key) != 0) {
		sodium_memzero(&kp, sizeof(kp));
		return -EIO;
	}
	memcpy(ret, &kp, sizeof(kp));
	sodium_memzero(&kp, sizeof(kp));
	return 0;
}

int ep_key_save(const char *path, const struct ep_keypair *kp)
{
	/* sizeof(KEY_HEADER) counts the NUL, which becomes the first '\n' */
	char text[sizeof(KEY_HEADER) + 2 * EP_SECRET_KEY_BYTES + 8];
	size_t hlen = sizeof(KEY_HEADER) - 1, len;
	int r;

	memcpy(text, KEY_HEADER "\n", hlen + 1);
	r = ep_base64_encode(kp->secret_key, EP_SECRET_KEY_BYTES, text + hlen + 1,
			     sizeof(text) - hlen - 2);
	if (r < 0)
		goto out;
	len = strlen(text);
	text[len++] = '\n';
	r = ep_atomic_write(path, text, len, 0600);
out:
	sodium_memzero(text, sizeof(text));
	return r;
}

/* Reads the open key file into buf (at most size - 1 bytes, NUL-terminated).
 * 0, -EFBIG or -errno. */
static int read_fd(int fd, char *buf, size_t size, size_t *ret_len)
{
	size_t len = 0;

	for (;;) {
		ssize_t n;

		if (len == size - 1) {
			char extra;
			n = read(fd, &extra, 1);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -errno;
			if (n > 0) {
				sodium_memzero(&extra, 1);
				return -EFBIG;
			}
			break;
		}
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*ret_len = len;
	return 0;
}

int ep_key_load(const char *path, struct ep_keypair *ret, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0, hlen = sizeof(KEY_HEADER) - 1, b64len, declen = 0;
	struct ep_keypair kp;
	unsigned char seed[crypto_sign_ed25519_SEEDBYTES];
	unsigned char pk[EP_PUBLIC_KEY_BYTES], sk[EP_SECRET_KEY_BYTES];
	struct stat st;
	const char *b64;
	int fd, r;

	if (err && errlen)
		err[0] = '\0';
	sodium_memzero(&kp, sizeof(kp));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		ep_snprintf(err, errlen, "cannot open key file '%s': %s", path, strerror(-r));
		return r;
	}
	/* check the mode of what we opened, not of what the path names later */
	if (fstat(fd, &st) != 0) {
		r = -errno;
		ep_snprintf(err, errlen, "cannot stat key file '%s': %s", path, strerror(-r));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		ep_snprintf(err, errlen, "key file '%s' is not a regular file", path);
		goto out;
	}
	if (st.st_mode & 077) {
		r = -EPERM;
		ep_snprintf(err, errlen,
			    "key file '%s' has mode %04o: it must not be accessible by group or "
			    "others; run: chmod 600 '%s'",
			    path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	text = sodium_malloc(KEY_FILE_MAX + 1);
	if (!text) {
		r = -ENOMEM;
		ep_snprintf(err, errlen, "cannot read key file '%s': out of memory", path);
		goto out;
	}
	r = read_fd(fd, text, KEY_FILE_MAX + 1, &len);
	if (r == -EFBIG) {
		r = -EINVAL;
		ep_snprintf(err, errlen, "key file '%s' is malformed: larger than %d bytes", path,
			    KEY_FILE_MAX);
		goto out;
	}
	if (r < 0) {
		ep_snprintf(err, errlen, "cannot read key file '%s': %s", path, strerror(-r));
		goto out;
	}
	r = -EINVAL;
	if (len == 0) {
		ep_snprintf(err, errlen, "key file '%s' is empty", path);
		goto out;
	}
	if (len < hlen + 1 || memcmp(text, KEY_HEADER "\n", hlen + 1) != 0) {
		ep_snprintf(err, errlen,
			    "key file '%s' is malformed: the first line is not '" KEY_HEADER "'",
			    path);
		goto out;
	}
	b64 = text + hlen + 1;
	b64len = len - hlen - 1;
	/* one trailing newline is allowed, nothing else */
	if (b64len > 0 && b64[b64len - 1] == '\n')
		b64len--;
	if (b64len == 0) {
		ep_snprintf(err, errlen, "key file '%s' is truncated: no key after the header",
			    path);
		goto out;
	}
	if (ep_base64_decode(b64, b64len, kp.secret_key, sizeof(kp.secret_key), &declen) < 0 ||
	    declen != EP_SECRET_KEY_BYTES) {
		ep_snprintf(err, errlen,
			    "key file '%s' is truncated or malformed: the second line must be "
			    "the base64 of a %d-byte Ed25519 secret key",
			    path, EP_SECRET_KEY_BYTES);
		goto out;
	}
	/* libsodium's secret key is seed || public key: re-derive both from the
	 * seed so a damaged public half is caught before we sign with it */
	crypto_sign_ed25519_sk_to_seed(seed, kp.secret_key);
	if (crypto_sign_ed25519_seed_keypair(pk, sk, seed) != 0 ||
	    sodium_memcmp(sk, kp.secret_key, EP_SECRET_KEY_BYTES) != 0) {
		ep_snprintf(
			err, errlen,
			"key file '%s' is corrupt: its public key does not match its secret key",
			path);
		goto out;
	}
	memcpy(kp.public_key, pk, EP_PUBLIC_KEY_BYTES);
	memcpy(ret, &kp, sizeof(kp));
	r = 0;
out:
	sodium_memzero(&kp, sizeof(kp));
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(sk, sizeof(sk));
	if (text)
		sodium_free(text); /* zeroes */
	close(fd);
	return r;
}

void ep_key_wipe(struct ep_keypair *kp)
{
	if (kp)
		sodium_memzero(kp, sizeof(*kp));
}

void ep_sign(const struct ep_keypair *kp, const void *msg, size_t len,
	     unsigned char ret_sig[EP_SIGNATURE_BYTES])
{
	crypto_sign_ed25519_detached(ret_sig, NULL, msg, len, kp->secret_key);
}

int ep_verify(const unsigned char public_key[EP_PUBLIC_KEY_BYTES], const void *msg, size_t len,
	      const unsigned char sig[EP_SIGNATURE_BYTES])
{
	return crypto_sign_ed25519_verify_detached(sig, msg, len, public_key) == 0 ? 0 : -EBADMSG;
}

int ep_base64_encode(const void *in, size_t len, char *out, size_t outsize)
{
	if (!out || outsize == 0)
		return -ENOSPC;
	out[0] = '\0';
	if (len > (SIZE_MAX - 8) / 4 * 3 ||
	    outsize < sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL))
		return -ENOSPC;
	sodium_bin2base64(out, outsize, in, len, sodium_base64_VARIANT_ORIGINAL);
	return 0;
}

/* The whole of in must be base64: no whitespace, padding required, no bits
 * left over (libsodium checks the last two). */
int ep_base64_decode(const char *in, size_t inlen, void *out, size_t outsize, size_t *ret_len)
{
	const char *end = NULL;
	size_t n = 0;

	if (!in && inlen > 0)
		return -EINVAL;
	if (inlen % 4 != 0)
		return -EINVAL;
	/* libsodium 1.0.18 (Debian 12) reads every byte >= 0x80 as '/': refuse
	 * them here so only canonical base64 text is ever accepted. */
	for (size_t i = 0; i < inlen; i++)
		if ((unsigned char)in[i] >= 0x80)
			return -EINVAL;
	errno = 0;
	if (sodium_base642bin(out, outsize, in ? in : "", inlen, NULL, &n, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0)
		return errno == ERANGE ? -ENOSPC : -EINVAL;
	if (end != (in ? in : "") + inlen)
		return -EINVAL;
	if (ret_len)
		*ret_len = n;
	return 0;
}

bool ep_const_eq(const void *a, const void *b, size_t n)
{
	return sodium_memcmp(a, b, n) == 0;
}

void ep_random_bytes(void *buf, size_t len)
{
	randombytes_buf(buf, len);
}

int ep_random_hex(size_t bytes, char *out, size_t outsize)
{
	unsigned char chunk[32];
	size_t done = 0;

	if (!out || outsize == 0)
		return -ENOSPC;
	out[0] = '\0';
	if (bytes > (outsize - 1) / 2)
		return -ENOSPC;
	while (done < bytes) {
		size_t n = bytes - done < sizeof(chunk) ? bytes - done : sizeof(chunk);
		randombytes_buf(chunk, n);
		sodium_bin2hex(out + 2 * done, outsize - 2 * done, chunk, n);
		done += n;
	}
	out[2 * bytes] = '\0';
	sodium_memzero(chunk, sizeof(chunk));
	return 0;
}

void ep_hash_secret(const char *secret, char out[65])
{
	unsigned char h[32];

	crypto_generichash(h, sizeof(h), (const unsigned char *)secret, strlen(secret), NULL, 0);
	sodium_bin2hex(out, 65, h, sizeof(h));
}
