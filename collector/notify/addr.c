/* Address classification for webhook targets (notify.h): which addresses
 * a webhook must not reach without allow_private. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#include "collector/notify/channel.h"
#include "collector/notify/notify.h"
#include "erpulse/crypto.h"
#include "erpulse/util.h"

/* ---- address classification ------------------------------------------------ */

static bool v4_private(uint32_t a) /* host byte order */
{
	static const struct {
		uint32_t net, mask;
	} ranges[] = {
		{0x00000000, 0xFF000000}, /* 0/8 "this network" */
		{0x0A000000, 0xFF000000}, /* 10/8 */
		{0x64400000, 0xFFC00000}, /* 100.64/10 carrier-grade NAT */
		{0x7F000000, 0xFF000000}, /* 127/8 loopback */
		{0xA9FE0000, 0xFFFF0000}, /* 169.254/16 link-local (cloud metadata) */
		{0xAC100000, 0xFFF00000}, /* 172.16/12 */
		{0xC0000000, 0xFFFFFF00}, /* 192.0.0/24 IETF protocol assignments */
		{0xC0000200, 0xFFFFFF00}, /* 192.0.2/24 TEST-NET-1 */
		{0xC0A80000, 0xFFFF0000}, /* 192.168/16 */
		{0xC6120000, 0xFFFE0000}, /* 198.18/15 benchmarking */
		{0xC6336400, 0xFFFFFF00}, /* 198.51.100/24 TEST-NET-2 */
		{0xCB007100, 0xFFFFFF00}, /* 203.0.113/24 TEST-NET-3 */
		{0xE0000000, 0xE0000000}, /* 224/3: multicast, reserved, broadcast */
	};

	for (size_t i = 0; i < EP_ARRAY_SIZE(ranges); i++)
		if ((a & ranges[i].mask) == ranges[i].net)
			return true;
	return false;
}

static uint32_t v4_at(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool v6_private(const unsigned char *a)
{
	static const unsigned char zero[16];
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};

	if (memcmp(a, zero, 15) == 0 && (a[15] == 0 || a[15] == 1))
		return true; /* :: and ::1 */
	if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0)
		return v4_private(v4_at(a + 12)); /* ::ffff:a.b.c.d, 64:ff9b::a.b.c.d */
	if (memcmp(a, zero, 12) == 0)
		return true; /* ::a.b.c.d (deprecated IPv4-compatible): never a public target */
	if ((a[0] & 0xfe) == 0xfc)
		return true; /* fc00::/7 unique local */
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return true; /* fe80::/10 link-local */
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0)
		return true; /* fec0::/10 old site-local */
	if (a[0] == 0xff)
		return true; /* multicast */
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8)
		return true; /* 2001:db8::/32 documentation */
	if (a[0] == 0x20 && a[1] == 0x02)
		return v4_private(v4_at(a + 2)); /* 6to4 2002:a.b.c.d::/48 */
	if (a[0] == 0x01 && a[1] == 0x00 && memcmp(a + 2, zero, 6) == 0)
		return true; /* 100::/64 discard */
	return false;
}

bool coll_addr_is_private(const struct sockaddr *sa)
{
	if (!sa)
		return true;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
		return v4_private(ntohl(in->sin_addr.s_addr));
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
		return v6_private(in6->sin6_addr.s6_addr);
	}
	return true; /* anything else is not a webhook target */
}

int coll_ip_text_is_private(const char *text)
{
	struct sockaddr_in in = {.sin_family = AF_INET};
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};

	if (!text)
		return -EINVAL;
	if (inet_pton(AF_INET, text, &in.sin_addr) == 1)
		return coll_addr_is_private((const struct sockaddr *)&in);
	if (inet_pton(AF_INET6, text, &in6.sin6_addr) == 1)
		return coll_addr_is_private((const struct sockaddr *)&in6);
	return -EINVAL;
}
