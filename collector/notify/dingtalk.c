/* DingTalk: markdown message (the shared markdown body of notify.c). */
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

json_t *coll_render_dingtalk(const struct coll_notice *n, const char *title)
{
	json_t *o = NULL;
	char *md = coll_notice_markdown(n, title);
	if (md)
		o = json_pack("{s:s, s:{s:s, s:s}}", "msgtype", "markdown", "markdown", "title",
			      title, "text", md);
	free(md);
	return o;
}
