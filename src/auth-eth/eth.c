/*
 * eth.c — JSON-RPC providers, their head trackers, and quorum reads of
 * dstack-auth-eth.
 *
 * Readiness of a provider is reached in three steps, each logged once:
 * eth_chainId ("Connected to Ethereum RPC: <origin>", refused when it is not
 * ETH_CHAIN_ID), code at KMS_CONTRACT_ADDR ("KMS contract loaded: 0x…"),
 * then a head block. Until then, and whenever it cannot be read, the
 * provider is skipped and its tracker retries every ETH_HEAD_POLL_MS. A
 * refresh is single-flight per provider: concurrent requests that find the
 * head too old wait for one refresh instead of each starting one.
 *
 * Outgoing calls are blocking libcurl exchanges made by the server's pool
 * thread that runs the read (server.h), through a per-provider pool of
 * clients (one keep-alive connection each, created on demand); every
 * exchange is bounded by what is left of the caller's deadline, and a
 * timeout within a sliver of time marks no provider down.
 * spec: auth-eth §1.7, §2.1-§2.4; issue 4 (head tracker, staleness).
 */
#include "auth-eth/eth.h"

#include "abi/jsonrpc.h"
#include "net/http_client.h"
#include "util/hex.h"
#include "util/log.h"
#include "version.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POOL_MAX 64
#define RPC_MAX_ANSWER (4u << 20)
#define DOWN_REMINDER_MS 60000
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 30000
#define MAX_PROVIDERS AEM_MAX_PROVIDERS
#define MAX_CALLS 4
#define GW_CACHE 4

struct blockref {
	uint64_t number;
	uint8_t hash[32];
};

struct head {
	uint64_t number;
	uint64_t timestamp;  /* block time, unix seconds */
	int fin_ok;	     /* number >= ETH_FINALITY_CONFIRMATIONS */
	struct blockref fin; /* the block at number - ETH_FINALITY_CONFIRMATIONS */
	int64_t fetched_ms;  /* monotonic */
};

struct eth;

struct provider {
	struct eth *e;
	int idx; /* 0-based; logs say #idx+1 */
	char *url;
	char origin[256]; /* scheme://host[:port] only */
	char label[300];  /* "#i scheme://host:port" */

	pthread_mutex_t pool_mu;
	struct http_client *pool[POOL_MAX];
	int npool;

	/* under e->mu */
	int connected;
	uint64_t chain_id;
	int wrong_chain;
	int loaded;
	int head_valid;
	struct head head;
	int refreshing;
	uint64_t refresh_gen;
	int last_ok;
	char last_err[ERR_MAX];
	int fails;
	int64_t down_until_ms;
	char down_reason[ERR_MAX];

	/* tracker thread only */
	pthread_t tracker;
	int tracker_started;
	int down;
	int64_t down_logged_ms;
	char down_msg[ERR_MAX];
};

struct gw_entry {
	int used;
	uint8_t hash[32];
	struct buf data; /* ABI answer of gatewayAppId() at that block */
};

struct eth {
	struct eth_config cfg;
	char *kms_addr;
	char *env_file;
	int addr_ok;
	uint8_t kms[20];
	char kms_eip55[43];
	char addr_err[1024];

	struct provider prov[MAX_PROVIDERS];
	int n;

	pthread_mutex_t mu;
	pthread_cond_t cv; /* a refresh finished, or stop */
	int stop;

	pthread_mutex_t gw_mu;
	struct gw_entry gw[GW_CACHE];
	unsigned gw_next;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t eth_now_ms(void)
{
	return mono_ms();
}

static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void abs_deadline(int64_t deadline_ms, struct timespec *ts)
{
	ts->tv_sec = (time_t)(deadline_ms / 1000);
	ts->tv_nsec = (long)(deadline_ms % 1000) * 1000000;
}

static void hash_hex(const uint8_t h[32], char out[67])
{
	out[0] = '0';
	out[1] = 'x';
	hex_encode(h, 32, out + 2);
	out[66] = '\0';
}

/* ---- client pools ------------------------------------------------------ */

static struct http_client *pool_take(struct provider *p, struct err *err)
{
	pthread_mutex_lock(&p->pool_mu);
	struct http_client *c = p->npool ? p->pool[--p->npool] : NULL;
	pthread_mutex_unlock(&p->pool_mu);
	if (c)
		return c;
	struct http_client_opts o = {.user_agent = "dstack-auth-eth/" KMS_VERSION};
	return http_client_new(&o, err);
}

static void pool_put(struct provider *p, struct http_client *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&p->pool_mu);
	if (p->npool < POOL_MAX) {
		p->pool[p->npool++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&p->pool_mu);
	http_client_free(c);
}

/* ---- health -------------------------------------------------------------- */

static void mark_down(struct provider *p, const char *why)
{
	struct eth *e = p->e;
	pthread_mutex_lock(&e->mu);
	if (p->fails < 30)
		p->fails++;
	int64_t backoff = BACKOFF_MIN_MS;
	for (int i = 1; i < p->fails && backoff < BACKOFF_MAX_MS; i++)
		backoff *= 2;
	if (backoff > BACKOFF_MAX_MS)
		backoff = BACKOFF_MAX_MS;
	p->down_until_ms = mono_ms() + backoff;
	snprintf(p->down_reason, sizeof p->down_reason, "%s", why);
	pthread_mutex_unlock(&e->mu);
}

static void mark_up(struct provider *p)
{
	struct eth *e = p->e;
	pthread_mutex_lock(&e->mu);
	p->fails = 0;
	p->down_until_ms = 0;
	pthread_mutex_unlock(&e->mu);
}

/* ---- one JSON-RPC exchange -------------------------------------------- */

enum rpc_fail {
	RPC_FAIL_NONE = 0,
	RPC_FAIL_PROVIDER, /* transport, timeout, 429, non-200: the provider is marked down */
	RPC_FAIL_ANSWER,   /* JSON-RPC error (revert), or not a JSON-RPC answer */
};

/* The shortest attempt whose timeout marks a provider down: 100 ms, or a
 * provider's fair share of a shorter ETH_RPC_TIMEOUT_MS. */
static long blame_min_ms(const struct eth *e)
{
	long share = e->cfg.timeout_ms / (2 * (long)e->n);
	return share < 100 ? share : 100;
}

/* POSTs body and parses the answer to n requests with ids 1..n. */
static int rpc(struct provider *p, struct http_client *c, const struct buf *body, size_t n,
	       int64_t deadline_ms, struct jsonrpc_answers *ans, enum rpc_fail *fail,
	       struct err *err)
{
	memset(ans, 0, sizeof *ans);
	*fail = RPC_FAIL_PROVIDER;
	long remain = (long)(deadline_ms - mono_ms());
	if (remain < 1)
		return err_set(err, "%s timed out after %ld ms", p->origin, p->e->cfg.timeout_ms);
	static const struct http_header hdrs[] = {{"Content-Type", "application/json"},
						  {"Accept", "application/json"}};
	struct http_request req = {
	    .method = "POST",
	    .url = p->url,
	    .headers = hdrs,
	    .n_headers = 2,
	    .body = body->p,
	    .body_len = body->len,
	    .connect_timeout_ms = remain,
	    .timeout_ms = remain,
	    .max_response_bytes = RPC_MAX_ANSWER,
	};
	struct http_response resp;
	memset(&resp, 0, sizeof resp);
	int rc = -1;
	enum aem_call result = AEM_CALL_OK;
	int64_t t0 = mono_us();
	if (http_client_do(c, &req, &resp, err) < 0) {
		result = resp.failure == HTTP_FAIL_TIMEOUT   ? AEM_CALL_TIMEOUT
			 : resp.failure == HTTP_FAIL_CONNECT ? AEM_CALL_CONNECT
							     : AEM_CALL_TRANSPORT;
		goto out;
	}
	if (resp.status == 429) {
		result = AEM_CALL_RATE_LIMITED;
		err_set(err, "%s is rate-limiting (HTTP 429)", p->origin);
		goto out;
	}
	if (resp.status != 200) {
		result = resp.status >= 500 && resp.status <= 599 ? AEM_CALL_HTTP_5XX
								  : AEM_CALL_HTTP_OTHER;
		err_set(err, "%s answered HTTP %ld", p->origin, resp.status);
		goto out;
	}
	*fail = RPC_FAIL_ANSWER;
	if (jsonrpc_parse(resp.body.p, resp.body.len, 1, n, ans, err) < 0) {
		result = AEM_CALL_RPC_ERROR;
		err_wrap(err, "%s", p->origin);
		goto out;
	}
	*fail = RPC_FAIL_NONE;
	rc = 0;
out:
	aem_call(p->idx, result, mono_us() - t0);
	/* A timeout within a sliver of time (a request that waited long for a
	 * thread) says nothing about the provider: it is not marked down, or
	 * one burst of late requests would take a healthy provider out. */
	if (*fail == RPC_FAIL_PROVIDER &&
	    !(result == AEM_CALL_TIMEOUT && remain < blame_min_ms(p->e)))
		mark_down(p, err->msg);
	else
		mark_up(p);
	http_response_free(&resp);
	return rc;
}

/* A block object's number, hash and timestamp. */
static int parse_block(const json_t *blk, uint64_t *number, uint8_t hash[32], uint64_t *ts,
		       struct err *err)
{
	struct buf h = BUF_INIT;
	int rc = -1;
	if (!json_is_object(blk)) {
		err_set(err, "no such block");
		goto out;
	}
	if (jsonrpc_quantity(json_object_get(blk, "number"), number, err) < 0 ||
	    (ts && jsonrpc_quantity(json_object_get(blk, "timestamp"), ts, err) < 0) ||
	    jsonrpc_data(json_object_get(blk, "hash"), &h, err) < 0)
		goto out;
	if (h.len != 32) {
		err_set(err, "block hash is %zu bytes, not 32", h.len);
		goto out;
	}
	memcpy(hash, h.p, 32);
	rc = 0;
out:
	buf_free(&h);
	return rc;
}

/* eth_getBlockByNumber(number) of one provider: its hash. */
static int block_hash_at(struct provider *p, struct http_client *c, uint64_t number,
			 int64_t deadline_ms, uint8_t hash[32], enum rpc_fail *fail,
			 struct err *err)
{
	char params[64];
	snprintf(params, sizeof params, "[\"0x%llx\",false]", (unsigned long long)number);
	struct buf body = BUF_INIT;
	struct jsonrpc_answers ans;
	memset(&ans, 0, sizeof ans);
	int rc = -1;
	*fail = RPC_FAIL_ANSWER;
	if (jsonrpc_request(&body, 1, "eth_getBlockByNumber", params) < 0) {
		err_set(err, "out of memory");
		goto out;
	}
	if (rpc(p, c, &body, 1, deadline_ms, &ans, fail, err) < 0)
		goto out;
	uint64_t got = 0;
	if (parse_block(ans.result[0], &got, hash, NULL, err) < 0 ||
	    (got != number && err_set(err, "answered block %llu", (unsigned long long)got) < 0)) {
		*fail = RPC_FAIL_ANSWER;
		err_wrap(err, "%s: eth_getBlockByNumber(%llu)", p->label,
			 (unsigned long long)number);
		goto out;
	}
	rc = 0;
out:
	jsonrpc_answers_free(&ans);
	buf_free(&body);
	return rc;
}

/* ---- readiness and head ----------------------------------------------- */

/* One refresh of provider p: whatever readiness step is missing, then the
 * head block (and the finality block). Only one at a time per provider. */
static int refresh(struct provider *p, struct http_client *c, int64_t deadline_ms, struct err *err)
{
	struct eth *e = p->e;
	struct buf body = BUF_INIT, data = BUF_INIT;
	struct jsonrpc_answers ans;
	memset(&ans, 0, sizeof ans);
	enum rpc_fail fail;
	int rc = -1;

	pthread_mutex_lock(&e->mu);
	int connected = p->connected, loaded = p->loaded;
	uint64_t chain_id = p->chain_id;
	pthread_mutex_unlock(&e->mu);

	if (!connected) {
		TRY_OUT(jsonrpc_request(&body, 1, "eth_chainId", "[]"));
		if (rpc(p, c, &body, 1, deadline_ms, &ans, &fail, err) < 0) {
			err_wrap(err, "Ethereum RPC not usable (check ETH_RPC_URL in %s)",
				 e->env_file);
			goto out;
		}
		if (jsonrpc_quantity(ans.result[0], &chain_id, err) < 0) {
			err_wrap(err, "eth_chainId");
			goto out;
		}
		jsonrpc_answers_free(&ans);
		if (e->cfg.has_chain_id && chain_id != e->cfg.chain_id) {
			pthread_mutex_lock(&e->mu);
			p->wrong_chain = 1;
			p->chain_id = chain_id;
			pthread_mutex_unlock(&e->mu);
			err_set(err,
				"eth_chainId is %llu, not ETH_CHAIN_ID=%llu: this provider is not "
				"used",
				(unsigned long long)chain_id, (unsigned long long)e->cfg.chain_id);
			goto out;
		}
		pthread_mutex_lock(&e->mu);
		p->connected = 1;
		p->wrong_chain = 0;
		p->chain_id = chain_id;
		pthread_mutex_unlock(&e->mu);
		if (e->n == 1)
			log_info("Connected to Ethereum RPC: %s", p->origin);
		else
			log_info("Connected to Ethereum RPC: %s (provider #%d)", p->origin,
				 p->idx + 1);
		log_info("Ethereum chain id: %llu%s", (unsigned long long)chain_id,
			 e->cfg.has_chain_id ? " (= ETH_CHAIN_ID)" : "");
	}
	if (!e->addr_ok) {
		err_set(err, "%s", e->addr_err);
		goto out;
	}
	if (!loaded) {
		char params[128];
		snprintf(params, sizeof params, "[\"0x");
		hex_encode(e->kms, 20, params + 4);
		snprintf(params + 44, sizeof params - 44, "\",\"latest\"]");
		buf_reset(&body);
		TRY_OUT(jsonrpc_request(&body, 1, "eth_getCode", params));
		if (rpc(p, c, &body, 1, deadline_ms, &ans, &fail, err) < 0 ||
		    jsonrpc_data(ans.result[0], &data, err) < 0) {
			err_wrap(err, "eth_getCode(KMS_CONTRACT_ADDR)");
			goto out;
		}
		jsonrpc_answers_free(&ans);
		if (data.len == 0) {
			err_set(err,
				"no contract code at KMS_CONTRACT_ADDR %s on chain %llu: set "
				"KMS_CONTRACT_ADDR in %s to the address of the deployed KMS "
				"contract (the proxy), on the chain ETH_RPC_URL points at",
				e->kms_eip55, (unsigned long long)chain_id, e->env_file);
			goto out;
		}
		pthread_mutex_lock(&e->mu);
		p->loaded = 1;
		pthread_mutex_unlock(&e->mu);
		if (p->idx == 0 || e->n == 1)
			log_info("KMS contract loaded: %s", e->kms_eip55);
		else
			log_info("KMS contract loaded: %s (provider #%d)", e->kms_eip55,
				 p->idx + 1);
	}

	buf_reset(&body);
	TRY_OUT(buf_append_byte(&body, '['));
	TRY_OUT(jsonrpc_request(&body, 1, "eth_chainId", "[]"));
	TRY_OUT(buf_append_byte(&body, ','));
	TRY_OUT(jsonrpc_request(&body, 2, "eth_getBlockByNumber", "[\"latest\",false]"));
	TRY_OUT(buf_append_byte(&body, ']'));
	if (rpc(p, c, &body, 2, deadline_ms, &ans, &fail, err) < 0)
		goto out;
	uint64_t now_chain;
	struct head h;
	memset(&h, 0, sizeof h);
	if (jsonrpc_quantity(ans.result[0], &now_chain, err) < 0 ||
	    parse_block(ans.result[1], &h.number, h.fin.hash, &h.timestamp, err) < 0) {
		err_set(err,
			"%s: eth_getBlockByNumber(latest) gave no block number, hash and timestamp",
			p->origin);
		goto out;
	}
	if (now_chain != chain_id) {
		/* another chain behind the same URL: start over (and log it) */
		pthread_mutex_lock(&e->mu);
		p->connected = p->loaded = p->head_valid = 0;
		pthread_mutex_unlock(&e->mu);
		err_set(err, "the Ethereum RPC %s switched from chain %llu to chain %llu",
			p->origin, (unsigned long long)chain_id, (unsigned long long)now_chain);
		goto out;
	}
	h.fin.number = h.number;
	h.fin_ok = 1;
	if (e->cfg.finality > 0) {
		if (h.number < (uint64_t)e->cfg.finality) {
			h.fin_ok = 0;
		} else {
			h.fin.number = h.number - (uint64_t)e->cfg.finality;
			if (block_hash_at(p, c, h.fin.number, deadline_ms, h.fin.hash, &fail, err) <
			    0)
				goto out;
		}
	}
	h.fetched_ms = mono_ms();
	pthread_mutex_lock(&e->mu);
	p->head = h;
	p->head_valid = 1;
	pthread_mutex_unlock(&e->mu);
	rc = 0;
out:
	jsonrpc_answers_free(&ans);
	buf_free(&body);
	buf_free(&data);
	return rc;
}

/*
 * The head of provider p: the tracked one when it was fetched at most
 * max_age_ms ago, else a refresh now (or the result of the refresh another
 * thread is running). Bounded by deadline_ms.
 */
static int get_head(struct provider *p, struct http_client *c, int64_t max_age_ms,
		    int64_t deadline_ms, struct head *out, struct err *err)
{
	struct eth *e = p->e;
	struct timespec ts;
	abs_deadline(deadline_ms, &ts);
	pthread_mutex_lock(&e->mu);
	for (;;) {
		if (e->stop) {
			pthread_mutex_unlock(&e->mu);
			return err_set(err, "shutting down");
		}
		if (p->head_valid && p->loaded && mono_ms() - p->head.fetched_ms <= max_age_ms) {
			*out = p->head;
			pthread_mutex_unlock(&e->mu);
			return 0;
		}
		if (!p->refreshing) {
			p->refreshing = 1;
			pthread_mutex_unlock(&e->mu);
			struct err rerr;
			err_clear(&rerr);
			int ok = refresh(p, c, deadline_ms, &rerr) == 0;
			pthread_mutex_lock(&e->mu);
			p->refreshing = 0;
			p->refresh_gen++;
			p->last_ok = ok;
			snprintf(p->last_err, sizeof p->last_err, "%s", rerr.msg);
			pthread_cond_broadcast(&e->cv);
			if (ok && p->head_valid) {
				*out = p->head;
				pthread_mutex_unlock(&e->mu);
				return 0;
			}
			pthread_mutex_unlock(&e->mu);
			if (ok)
				return err_set(err, "chain head unavailable");
			return err_set(err, "%s", rerr.msg);
		}
		uint64_t gen = p->refresh_gen;
		while (p->refreshing && gen == p->refresh_gen && !e->stop) {
			if (pthread_cond_timedwait(&e->cv, &e->mu, &ts) != 0 &&
			    mono_ms() >= deadline_ms) {
				pthread_mutex_unlock(&e->mu);
				return err_set(err,
					       "%s timed out after %ld ms (chain head refresh)",
					       p->origin, e->cfg.timeout_ms);
			}
		}
		if (gen != p->refresh_gen) {
			if (!p->last_ok) {
				err_set(err, "%s", p->last_err);
				pthread_mutex_unlock(&e->mu);
				return -1;
			}
			if (p->head_valid) {
				*out = p->head;
				pthread_mutex_unlock(&e->mu);
				return 0;
			}
		}
	}
}

/* ---- gatewayAppId() cache by block hash --------------------------------- */

static int gw_lookup(struct eth *e, const uint8_t hash[32], struct buf *out)
{
	int hit = 0;
	pthread_mutex_lock(&e->gw_mu);
	for (int i = 0; i < GW_CACHE; i++)
		if (e->gw[i].used && memcmp(e->gw[i].hash, hash, 32) == 0) {
			buf_reset(out);
			hit = buf_append(out, e->gw[i].data.p, e->gw[i].data.len) == 0;
			break;
		}
	pthread_mutex_unlock(&e->gw_mu);
	return hit;
}

static void gw_store(struct eth *e, const uint8_t hash[32], const struct buf *data)
{
	pthread_mutex_lock(&e->gw_mu);
	for (int i = 0; i < GW_CACHE; i++)
		if (e->gw[i].used && memcmp(e->gw[i].hash, hash, 32) == 0) {
			pthread_mutex_unlock(&e->gw_mu);
			return;
		}
	struct gw_entry *g = &e->gw[e->gw_next++ % GW_CACHE];
	buf_reset(&g->data);
	g->used = buf_append(&g->data, data->p, data->len) == 0;
	memcpy(g->hash, hash, 32);
	pthread_mutex_unlock(&e->gw_mu);
}

/* ---- quorum reads ------------------------------------------------------- */

struct read {
	int check_age;
	size_t n;
	const struct buf *calldata[MAX_CALLS];
	const char *names[MAX_CALLS]; /* for messages */
	int gw_index;		      /* the gatewayAppId() call (cached), or -1 */
	/* results */
	struct buf out[MAX_CALLS]; /* ABI answers */
	uint64_t chain_id;
	uint64_t block;
};

/* A provider's answers to r's calls (those not cached) at block hash. */
static int call_at(struct provider *p, struct http_client *c, const struct read *r,
		   const uint8_t hash[32], const int *skip, int64_t deadline_ms, struct buf *outs,
		   enum rpc_fail *fail, struct err *err)
{
	struct eth *e = p->e;
	char h[67];
	hash_hex(hash, h);
	struct buf body = BUF_INIT, params = BUF_INIT;
	struct jsonrpc_answers ans;
	memset(&ans, 0, sizeof ans);
	size_t ids[MAX_CALLS], m = 0;
	int rc = -1;
	*fail = RPC_FAIL_ANSWER;
	for (size_t i = 0; i < r->n; i++)
		if (!skip[i])
			ids[m++] = i;
	if (m > 1 && buf_append_byte(&body, '[') < 0)
		goto oom;
	for (size_t j = 0; j < m; j++) {
		const struct buf *cd = r->calldata[ids[j]];
		buf_reset(&params);
		if ((j && buf_append_byte(&body, ',') < 0) ||
		    buf_append_str(&params, "[{\"to\":\"0x") < 0 ||
		    hex_append(&params, e->kms, 20) < 0 ||
		    buf_append_str(&params, "\",\"data\":\"0x") < 0 ||
		    hex_append(&params, cd->p, cd->len) < 0 ||
		    buf_printf(&params, "\"},{\"blockHash\":\"%s\"}]", h) < 0 ||
		    jsonrpc_request(&body, (unsigned)(j + 1), "eth_call", buf_str(&params)) < 0)
			goto oom;
	}
	if (m > 1 && buf_append_byte(&body, ']') < 0)
		goto oom;
	if (m && rpc(p, c, &body, m, deadline_ms, &ans, fail, err) < 0) {
		err_wrap(err, "%s", p->label);
		goto out;
	}
	for (size_t j = 0; j < m; j++) {
		buf_reset(&outs[ids[j]]);
		if (jsonrpc_data(ans.result[j], &outs[ids[j]], err) < 0) {
			*fail = RPC_FAIL_ANSWER;
			err_wrap(err, "%s: %s", p->label, r->names[ids[j]]);
			goto out;
		}
	}
	*fail = RPC_FAIL_NONE;
	rc = 0;
	goto out;
oom:
	err_set(err, "out of memory");
out:
	jsonrpc_answers_free(&ans);
	buf_free(&body);
	buf_free(&params);
	return rc;
}

/* Appends "; #i origin: why" to a summary of skipped providers. */
static void append(char *sum, size_t len, const char *s)
{
	size_t u = strlen(sum), n = strlen(s);
	if (u + 1 >= len)
		return;
	if (n > len - u - 1)
		n = len - u - 1;
	memcpy(sum + u, s, n);
	sum[u + n] = '\0';
}

static void note(char *sum, size_t len, const struct provider *p, const char *why)
{
	if (sum[0])
		append(sum, len, "; ");
	append(sum, len, p->label);
	append(sum, len, ": ");
	append(sum, len, why);
}

static int usable(struct provider *p, int64_t now, char *why, size_t whylen)
{
	struct eth *e = p->e;
	int ok = 1;
	pthread_mutex_lock(&e->mu);
	if (p->wrong_chain) {
		snprintf(why, whylen, "eth_chainId %llu is not ETH_CHAIN_ID=%llu",
			 (unsigned long long)p->chain_id, (unsigned long long)e->cfg.chain_id);
		ok = 0;
	} else if (p->down_until_ms > now) {
		snprintf(why, whylen, "backing off for %lld ms after: %s",
			 (long long)(p->down_until_ms - now), p->down_reason);
		ok = 0;
	}
	pthread_mutex_unlock(&e->mu);
	return ok;
}

/*
 * The read of r under the quorum rule (see eth.h). ETH_STALE when every
 * provider that could have answered had a head older than ETH_MAX_BLOCK_AGE.
 */
static enum eth_rc chain_read(struct eth *e, struct read *r, int64_t deadline, struct err *err)
{
	if (!e->addr_ok) {
		err_set(err, "%s", e->addr_err);
		return ETH_UNAVAILABLE;
	}
	if (deadline - mono_ms() < 1) {
		/* nothing is asked (and no provider blamed) for a request that
		 * waited its whole deadline for a thread */
		err_set(err, "no time left for the chain read");
		return ETH_UNAVAILABLE;
	}
	const int K = e->cfg.quorum;
	char skipped[ERR_MAX] = "";
	char why[ERR_MAX];
	struct provider *cand[MAX_PROVIDERS];
	int nc = 0, saw_stale = 0;
	int64_t now = mono_ms();
	for (int i = 0; i < e->n; i++) {
		if (usable(&e->prov[i], now, why, sizeof why))
			cand[nc++] = &e->prov[i];
		else
			note(skipped, sizeof skipped, &e->prov[i], why);
	}

	/* phase 1: heads of K providers (a failing one is replaced by the next) */
	struct provider *mem[MAX_PROVIDERS];
	int nm = 0, next = 0;
	uint64_t low = UINT64_MAX;
	while (nm < K && next < nc) {
		struct provider *p = cand[next];
		int left = nc - next;
		next++;
		int64_t t = mono_ms();
		int64_t att = t + (deadline - t) / left;
		struct err herr;
		err_clear(&herr);
		struct http_client *c = pool_take(p, &herr);
		struct head h;
		int ok = c && get_head(p, c, e->cfg.poll_ms, att, &h, &herr) == 0;
		pool_put(p, c);
		if (!ok) {
			note(skipped, sizeof skipped, p, herr.msg);
			continue;
		}
		if (r->check_age && e->cfg.max_block_age_s > 0) {
			int64_t age = (int64_t)time(NULL) - (int64_t)h.timestamp;
			if (age > e->cfg.max_block_age_s) {
				saw_stale = 1;
				snprintf(why, sizeof why,
					 "head block %llu is %lld s old (ETH_MAX_BLOCK_AGE=%ld)",
					 (unsigned long long)h.number, (long long)age,
					 e->cfg.max_block_age_s);
				note(skipped, sizeof skipped, p, why);
				continue;
			}
		}
		if (!h.fin_ok) {
			snprintf(why, sizeof why,
				 "head block %llu is below ETH_FINALITY_CONFIRMATIONS=%ld",
				 (unsigned long long)h.number, e->cfg.finality);
			note(skipped, sizeof skipped, p, why);
			continue;
		}
		mem[nm++] = p;
		if (h.number < low)
			low = h.number;
	}
	if (nm < K) {
		if (K == 1)
			err_set(err, "no usable Ethereum RPC provider (%s)",
				skipped[0] ? skipped : "none configured");
		else
			err_set(err, "ETH_RPC_QUORUM=%d but only %d provider%s usable (%s)", K, nm,
				nm == 1 ? " is" : "s are", skipped[0] ? skipped : "none left");
		return saw_stale && nm == 0 ? ETH_STALE : ETH_UNAVAILABLE;
	}
	const uint64_t B = low - (uint64_t)e->cfg.finality;

	/* phase 2: hash at B and the calls pinned to it, provider by provider;
	 * members first, then the remaining candidates as replacements */
	struct provider *order[MAX_PROVIDERS];
	int no = 0;
	for (int i = 0; i < nm; i++)
		order[no++] = mem[i];
	for (int i = next; i < nc; i++)
		order[no++] = cand[i];
	uint8_t agreed_hash[32];
	const struct provider *first = NULL;
	struct buf cur[MAX_CALLS];
	for (size_t i = 0; i < MAX_CALLS; i++)
		cur[i] = (struct buf)BUF_INIT;
	int skip[MAX_CALLS] = {0};
	int got = 0, gw_cached = 0;
	enum eth_rc rc = ETH_UNAVAILABLE;
	for (int k = 0; k < no && got < K; k++) {
		struct provider *p = order[k];
		int64_t t = mono_ms();
		if (t >= deadline) {
			note(skipped, sizeof skipped, p, "no time left");
			break;
		}
		int64_t att = t + (deadline - t) / (no - k);
		struct err perr;
		err_clear(&perr);
		struct http_client *c = pool_take(p, &perr);
		if (!c) {
			note(skipped, sizeof skipped, p, perr.msg);
			continue;
		}
		uint8_t hash[32];
		enum rpc_fail fail = RPC_FAIL_NONE;
		int have = 0;
		pthread_mutex_lock(&e->mu);
		if (p->head_valid && p->head.fin_ok && p->head.fin.number == B) {
			memcpy(hash, p->head.fin.hash, 32);
			have = 1;
		}
		uint64_t pchain = p->chain_id;
		pthread_mutex_unlock(&e->mu);
		if (!have && block_hash_at(p, c, B, att, hash, &fail, &perr) < 0) {
			pool_put(p, c);
			note(skipped, sizeof skipped, p, perr.msg);
			continue;
		}
		if (first && (memcmp(hash, agreed_hash, 32) != 0 || pchain != r->chain_id)) {
			pool_put(p, c);
			char a[67], b[67];
			hash_hex(agreed_hash, a);
			hash_hex(hash, b);
			aem_disagreement();
			if (pchain != r->chain_id)
				err_set(
				    err,
				    "quorum disagreement: %s is on chain %llu, %s on chain %llu",
				    first->label, (unsigned long long)r->chain_id, p->label,
				    (unsigned long long)pchain);
			else
				err_set(
				    err,
				    "quorum disagreement at block %llu: %s has block hash %s, %s "
				    "has %s",
				    (unsigned long long)B, first->label, a, p->label, b);
			goto out;
		}
		if (!first && r->gw_index >= 0) {
			/* (again for a replacement of a failed first provider) */
			gw_cached = gw_lookup(e, hash, &r->out[r->gw_index]);
			skip[r->gw_index] = gw_cached;
		}
		struct buf *dst = first ? cur : r->out;
		if (call_at(p, c, r, hash, skip, att, dst, &fail, &perr) < 0) {
			pool_put(p, c);
			if (fail == RPC_FAIL_PROVIDER) {
				note(skipped, sizeof skipped, p, perr.msg);
				continue;
			}
			err_set(err, "%s at block %llu", perr.msg, (unsigned long long)B);
			goto out;
		}
		pool_put(p, c);
		if (!first) {
			first = p;
			memcpy(agreed_hash, hash, 32);
			r->chain_id = pchain;
		} else {
			for (size_t i = 0; i < r->n; i++) {
				if (skip[i] || (cur[i].len == r->out[i].len &&
						(cur[i].len == 0 ||
						 memcmp(cur[i].p, r->out[i].p, cur[i].len) == 0)))
					continue;
				aem_disagreement();
				char a[67];
				hash_hex(hash, a);
				err_set(
				    err,
				    "quorum disagreement at block %llu (hash %s): %s and %s give "
				    "different answers to %s",
				    (unsigned long long)B, a, first->label, p->label, r->names[i]);
				goto out;
			}
		}
		got++;
	}
	if (got < K) {
		err_set(err, "%d of ETH_RPC_QUORUM=%d providers answered at block %llu (%s)", got,
			K, (unsigned long long)B, skipped[0] ? skipped : "no time left");
		goto out;
	}
	if (r->gw_index >= 0 && !gw_cached)
		gw_store(e, agreed_hash, &r->out[r->gw_index]);
	r->block = B;
	rc = ETH_OK;
out:
	for (size_t i = 0; i < MAX_CALLS; i++)
		buf_free(&cur[i]);
	return rc;
}

static void read_free(struct read *r)
{
	for (size_t i = 0; i < MAX_CALLS; i++)
		buf_free(&r->out[i]);
}

static void read_init(struct read *r, int check_age)
{
	memset(r, 0, sizeof *r);
	r->check_age = check_age;
	r->gw_index = -1;
	for (size_t i = 0; i < MAX_CALLS; i++)
		r->out[i] = (struct buf)BUF_INIT;
}

/* ---- requests ---------------------------------------------------------- */

enum eth_rc eth_authorize(struct eth *e, int is_kms, const struct abi_boot_info *bi,
			  int64_t deadline_ms, struct eth_decision *out, struct err *err)
{
	memset(out, 0, sizeof *out);
	struct buf call = BUF_INIT, gw = BUF_INIT;
	struct read r;
	read_init(&r, 1);
	enum eth_rc rc = ETH_UNAVAILABLE;
	const char *what = is_kms ? "isKmsAllowed" : "isAppAllowed";
	if (abi_encode_boot_info_call(is_kms ? ABI_SEL_IS_KMS_ALLOWED : ABI_SEL_IS_APP_ALLOWED, bi,
				      &call, err) < 0 ||
	    buf_append(&gw, ABI_SEL_GATEWAY_APP_ID, 4) < 0)
		goto out;
	r.n = 2;
	r.calldata[0] = &call;
	r.names[0] = what;
	r.calldata[1] = &gw;
	r.names[1] = "gatewayAppId";
	r.gw_index = 1;
	rc = chain_read(e, &r, deadline_ms, err);
	if (rc != ETH_OK)
		goto out;
	rc = ETH_UNAVAILABLE;
	struct abi_bytes reason, gid;
	if (abi_decode_bool_string(r.out[0].p, r.out[0].len, &out->allowed, &reason, err) < 0) {
		err_wrap(err, "%s at block %llu", what, (unsigned long long)r.block);
		goto out;
	}
	if (abi_decode_string(r.out[1].p, r.out[1].len, &gid, err) < 0) {
		err_wrap(err, "gatewayAppId at block %llu", (unsigned long long)r.block);
		goto out;
	}
	if (buf_append(&out->reason, reason.p, reason.len) < 0 ||
	    buf_append(&out->gateway_app_id, gid.p, gid.len) < 0) {
		err_set(err, "out of memory");
		goto out;
	}
	out->block = r.block;
	rc = ETH_OK;
out:
	read_free(&r);
	buf_free(&call);
	buf_free(&gw);
	return rc;
}

void eth_decision_free(struct eth_decision *d)
{
	buf_free(&d->reason);
	buf_free(&d->gateway_app_id);
}

enum eth_rc eth_info(struct eth *e, int64_t deadline_ms, struct eth_info *out, struct err *err)
{
	memset(out, 0, sizeof *out);
	struct buf gw = BUF_INIT, impl = BUF_INIT;
	struct read r;
	read_init(&r, 0);
	enum eth_rc rc = ETH_UNAVAILABLE;
	if (buf_append(&gw, ABI_SEL_GATEWAY_APP_ID, 4) < 0 ||
	    buf_append(&impl, ABI_SEL_APP_IMPLEMENTATION, 4) < 0) {
		err_set(err, "out of memory");
		goto out;
	}
	r.n = 2;
	r.calldata[0] = &gw;
	r.names[0] = "gatewayAppId";
	r.calldata[1] = &impl;
	r.names[1] = "appImplementation";
	r.gw_index = 0;
	rc = chain_read(e, &r, deadline_ms, err);
	if (rc != ETH_OK)
		goto out;
	rc = ETH_UNAVAILABLE;
	struct abi_bytes gid;
	out->chain_id = r.chain_id;
	if (abi_decode_string(r.out[0].p, r.out[0].len, &gid, err) < 0 ||
	    buf_append(&out->gateway_app_id, gid.p, gid.len) < 0) {
		err_wrap(err, "gatewayAppId");
		goto out;
	}
	if (abi_decode_address(r.out[1].p, r.out[1].len, out->app_implementation, err) < 0) {
		err_wrap(err, "appImplementation");
		goto out;
	}
	rc = ETH_OK;
out:
	read_free(&r);
	buf_free(&gw);
	buf_free(&impl);
	return rc;
}

void eth_info_free(struct eth_info *i)
{
	buf_free(&i->gateway_app_id);
}

enum eth_rc eth_is_registered(struct eth *e, const uint8_t app[20], int64_t deadline_ms,
			      int *registered, struct err *err)
{
	struct buf call = BUF_INIT;
	struct read r;
	read_init(&r, 1);
	enum eth_rc rc = ETH_UNAVAILABLE;
	if (abi_encode_address_call(ABI_SEL_REGISTERED_APPS, app, &call, err) < 0)
		goto out;
	r.n = 1;
	r.calldata[0] = &call;
	r.names[0] = "registeredApps";
	rc = chain_read(e, &r, deadline_ms, err);
	if (rc != ETH_OK)
		goto out;
	if (abi_decode_bool(r.out[0].p, r.out[0].len, registered, err) < 0) {
		err_wrap(err, "registeredApps");
		rc = ETH_UNAVAILABLE;
	}
out:
	read_free(&r);
	buf_free(&call);
	return rc;
}

int eth_provider_states(struct eth *e, struct aem_provider *out, int max)
{
	int n = e->n < max ? e->n : max;
	int64_t now = mono_ms();
	int64_t wall = (int64_t)time(NULL);
	pthread_mutex_lock(&e->mu);
	for (int i = 0; i < n; i++) {
		struct provider *p = &e->prov[i];
		out[i].origin = p->origin;
		out[i].wrong_chain = p->wrong_chain;
		out[i].head_valid = p->head_valid;
		out[i].head_number = p->head.number;
		out[i].head_age_s = p->head_valid ? (double)(wall - (int64_t)p->head.timestamp) : 0;
		out[i].usable = e->addr_ok && p->connected && p->loaded && p->head_valid &&
				!p->wrong_chain && p->down_until_ms <= now;
	}
	pthread_mutex_unlock(&e->mu);
	return n;
}

/* ---- trackers ---------------------------------------------------------- */

static void tracker_report(struct provider *p, int ok, const char *msg)
{
	struct eth *e = p->e;
	int64_t now = mono_ms();
	if (!ok) {
		/* log a new reason at once, the same one again every minute */
		if (!p->down || strcmp(msg, p->down_msg) != 0 ||
		    now - p->down_logged_ms >= DOWN_REMINDER_MS) {
			if (e->n == 1)
				log_err("authorization backend unavailable: %s: %s; answering "
					"\"authorization backend unavailable\" and retrying every "
					"%ld ms",
					p->label, msg, e->cfg.poll_ms);
			else
				log_err("Ethereum RPC provider %s unavailable: %s; retrying every "
					"%ld ms",
					p->label, msg, e->cfg.poll_ms);
			p->down_logged_ms = now;
			snprintf(p->down_msg, sizeof p->down_msg, "%s", msg);
		}
		p->down = 1;
		return;
	}
	if (p->down) {
		pthread_mutex_lock(&e->mu);
		unsigned long long n = (unsigned long long)p->head.number;
		pthread_mutex_unlock(&e->mu);
		if (e->n == 1)
			log_info("authorization backend available again: head block %llu", n);
		else
			log_info("Ethereum RPC provider %s available again: head block %llu",
				 p->label, n);
	}
	p->down = 0;
}

static void *tracker_main(void *arg)
{
	struct provider *p = arg;
	struct eth *e = p->e;
	struct err err;
	struct http_client *c = NULL;
	/* refresh a little before requests would consider the head too old */
	int64_t early = e->cfg.poll_ms * 4 / 5;
	for (;;) {
		err_clear(&err);
		if (!c)
			c = pool_take(p, &err);
		int ok = 0;
		if (c) {
			struct head h;
			ok = get_head(p, c, early, mono_ms() + e->cfg.timeout_ms, &h, &err) == 0;
		}
		pthread_mutex_lock(&e->mu);
		int stop = e->stop;
		if (!ok && p->wrong_chain)
			p->connected = 0; /* keep asking: the URL may be fixed behind us */
		pthread_mutex_unlock(&e->mu);
		if (stop)
			break;
		tracker_report(p, ok, err.msg);

		pthread_mutex_lock(&e->mu);
		int64_t wake =
		    ok && p->head_valid ? p->head.fetched_ms + early : mono_ms() + e->cfg.poll_ms;
		struct timespec ts;
		abs_deadline(wake, &ts);
		while (!e->stop && mono_ms() < wake)
			pthread_cond_timedwait(&e->cv, &e->mu, &ts);
		stop = e->stop;
		pthread_mutex_unlock(&e->mu);
		if (stop)
			break;
	}
	http_client_free(c);
	return NULL;
}

/* ---- life cycle -------------------------------------------------------- */

struct eth *eth_new(const struct eth_config *c, struct err *err)
{
	if (c->n_rpc < 1 || c->n_rpc > MAX_PROVIDERS || c->quorum < 1 || c->quorum > c->n_rpc) {
		err_set(err, "ETH_RPC_QUORUM=%d with %d providers", c->quorum, c->n_rpc);
		return NULL;
	}
	struct eth *e = calloc(1, sizeof *e);
	if (!e) {
		err_set(err, "out of memory");
		return NULL;
	}
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&e->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&e->mu, NULL);
	pthread_mutex_init(&e->gw_mu, NULL);
	for (int i = 0; i < GW_CACHE; i++)
		e->gw[i].data = (struct buf)BUF_INIT;
	e->cfg = *c;
	e->cfg.rpc_urls = NULL;
	e->n = c->n_rpc;
	for (int i = 0; i < e->n; i++) {
		struct provider *p = &e->prov[i];
		p->e = e;
		p->idx = i;
		pthread_mutex_init(&p->pool_mu, NULL);
		p->url = strdup(c->rpc_urls[i]);
		if (!p->url) {
			eth_free(e);
			err_set(err, "out of memory");
			return NULL;
		}
		char origin[sizeof p->origin];
		log_url_origin(p->url, origin, sizeof origin);
		memcpy(p->origin, origin, sizeof origin);
		snprintf(p->label, sizeof p->label, "#%d %s", i + 1, origin);
	}
	e->kms_addr = strdup(c->kms_addr);
	e->env_file = strdup(c->env_file);
	if (!e->kms_addr || !e->env_file) {
		eth_free(e);
		err_set(err, "out of memory");
		return NULL;
	}
	e->cfg.kms_addr = e->kms_addr;
	e->cfg.env_file = e->env_file;
	struct err aerr;
	err_clear(&aerr);
	if (abi_parse_address(c->kms_addr, strlen(c->kms_addr), e->kms, &aerr) == 0) {
		e->addr_ok = 1;
		abi_eip55(e->kms, e->kms_eip55);
	} else {
		char shown[64];
		size_t j = 0;
		for (const char *q = c->kms_addr; *q && j + 1 < sizeof shown; q++)
			shown[j++] = (*q >= 0x20 && *q < 0x7f && *q != '"') ? *q : '?';
		shown[j] = '\0';
		snprintf(e->addr_err, sizeof e->addr_err,
			 "KMS_CONTRACT_ADDR \"%s\" is not an Ethereum address (%.100s): set "
			 "KMS_CONTRACT_ADDR in %.300s to the address of the deployed KMS contract "
			 "(0x followed by 40 hex digits)",
			 shown, aerr.msg, e->env_file);
	}
	return e;
}

int eth_start(struct eth *e, struct err *err)
{
	if (!e->addr_ok)
		log_err("%s", e->addr_err);
	for (int i = 0; i < e->n; i++) {
		struct provider *p = &e->prov[i];
		if (pthread_create(&p->tracker, NULL, tracker_main, p) != 0)
			return err_set(err, "cannot start the chain head tracker thread of %s",
				       p->label);
		p->tracker_started = 1;
	}
	return 0;
}

void eth_free(struct eth *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&e->mu);
	e->stop = 1;
	pthread_cond_broadcast(&e->cv);
	pthread_mutex_unlock(&e->mu);
	for (int i = 0; i < e->n; i++) {
		struct provider *p = &e->prov[i];
		if (p->tracker_started)
			pthread_join(p->tracker, NULL);
		for (int k = 0; k < p->npool; k++)
			http_client_free(p->pool[k]);
		pthread_mutex_destroy(&p->pool_mu);
		if (p->url) {
			memset(p->url, 0, strlen(p->url)); /* may carry an API key */
			free(p->url);
		}
	}
	for (int i = 0; i < GW_CACHE; i++)
		buf_free(&e->gw[i].data);
	pthread_mutex_destroy(&e->mu);
	pthread_mutex_destroy(&e->gw_mu);
	pthread_cond_destroy(&e->cv);
	free(e->kms_addr);
	free(e->env_file);
	free(e);
}
