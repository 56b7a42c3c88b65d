/*
 * webhook.c — a constant auth webhook for `make bench`: GET / answers
 * auth-eth's info object, POST /bootAuth/{app,kms} answers isAllowed=true,
 * over HTTP/1.1 keep-alive, one thread per connection. Its cost per call is
 * a few microseconds, so the GetAppKey figures measure the KMS rather than
 * a Python test server (tests/tools/fake_webhook.py answers the same JSON).
 * Bench tool only: binds 127.0.0.1, never installed.
 * Usage: webhook PORT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char INFO[] =
    "{\"status\":\"ok\",\"kmsContractAddr\":\"0x1234567890abcdef1234567890abcdef12345678\","
    "\"gatewayAppId\":\"0xgateway\",\"chainId\":31337,\"appAuthImplementation\":\"0xaaaa\","
    "\"appImplementation\":\"0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"}";
static const char ALLOW[] = "{\"isAllowed\":true,\"reason\":\"\",\"gatewayAppId\":\"0xgateway\"}";

static void *serve(void *arg)
{
	int fd = (int)(long)arg;
	char buf[65536], out[1024];
	size_t have = 0;
	for (;;) {
		char *end;
		buf[have] = 0;
		while (!(end = strstr(buf, "\r\n\r\n"))) {
			if (have >= sizeof buf - 1)
				goto done;
			ssize_t r = read(fd, buf + have, sizeof buf - 1 - have);
			if (r <= 0)
				goto done;
			have += (size_t)r;
			buf[have] = 0;
		}
		char *cl = strcasestr(buf, "\r\ncontent-length:");
		size_t blen = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
		size_t need = (size_t)(end + 4 - buf) + blen;
		if (need >= sizeof buf)
			goto done;
		while (have < need) {
			ssize_t r = read(fd, buf + have, sizeof buf - 1 - have);
			if (r <= 0)
				goto done;
			have += (size_t)r;
		}
		const char *body = strncmp(buf, "GET ", 4) == 0 ? INFO : ALLOW;
		int n = snprintf(out, sizeof out,
				 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
				 "Content-Length: %zu\r\n\r\n%s",
				 strlen(body), body);
		if (write(fd, out, (size_t)n) != n)
			goto done;
		memmove(buf, buf + need, have - need);
		have -= need;
	}
done:
	close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 128) < 0) {
		perror("webhook: bind");
		return 1;
	}
	for (;;) {
		int c = accept(s, NULL, NULL);
		if (c < 0)
			continue;
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		pthread_t th;
		if (pthread_create(&th, NULL, serve, (void *)(long)c) != 0)
			close(c);
		else
			pthread_detach(th);
	}
}
