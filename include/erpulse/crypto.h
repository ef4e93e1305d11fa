/* Ed25519 keys, signatures, base64, constant-time compare and random ids,
 * all through libsodium. */
#ifndef ERPULSE_CRYPTO_H
#define ERPULSE_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EP_PUBLIC_KEY_BYTES 32
#define EP_SECRET_KEY_BYTES 64
#define EP_SIGNATURE_BYTES  64
/* base64 (standard alphabet, padded) lengths including the NUL */
#define EP_PUBLIC_KEY_B64_SIZE 45
#define EP_SIGNATURE_B64_SIZE  89

struct ep_keypair {
	unsigned char public_key[EP_PUBLIC_KEY_BYTES];
	unsigned char secret_key[EP_SECRET_KEY_BYTES];
};

/* sodium_init(); call once before anything below. 0 or -EIO. */
int ep_crypto_init(void);

int ep_key_generate(struct ep_keypair *ret);
/* Saves the key pair to path (atomic write, mode 0600). 0 or -errno. */
int ep_key_save(const char *path, const struct ep_keypair *kp);
/* Loads a key pair. Refuses (-EPERM) a file readable or writable by group or
 * others, like OpenSSH; -EINVAL for a truncated or malformed file; -errno
 * otherwise. err gets a sentence naming the path and what to do. */
int ep_key_load(const char *path, struct ep_keypair *ret, char *err, size_t errlen);
/* Wipes the secret key. */
void ep_key_wipe(struct ep_keypair *kp);

/* Detached Ed25519 signature over exactly len bytes of msg. */
void ep_sign(const struct ep_keypair *kp, const void *msg, size_t len,
	     unsigned char ret_sig[EP_SIGNATURE_BYTES]);
/* 0 when sig is valid for msg under public_key, -EBADMSG otherwise. */
int ep_verify(const unsigned char public_key[EP_PUBLIC_KEY_BYTES], const void *msg, size_t len,
	      const unsigned char sig[EP_SIGNATURE_BYTES]);

/* Standard padded base64. encode: 0 or -ENOSPC. decode: 0, -EINVAL (not
 * base64, whitespace included) or -ENOSPC; *ret_len gets the decoded size. */
int ep_base64_encode(const void *in, size_t len, char *out, size_t outsize);
int ep_base64_decode(const char *in, size_t inlen, void *out, size_t outsize, size_t *ret_len);

/* Constant-time equality of n bytes. */
bool ep_const_eq(const void *a, const void *b, size_t n);

/* Random bytes; random identifier of `bytes` random bytes as lower-case hex
 * into out (needs 2*bytes+1). 0 or -ENOSPC. */
void ep_random_bytes(void *buf, size_t len);
int ep_random_hex(size_t bytes, char *out, size_t outsize);

/* BLAKE2b-256 of a secret (enrollment and API tokens are stored this way),
 * lower-case hex into out (65 bytes). */
void ep_hash_secret(const char *secret, char out[65]);

#endif
