/*
 * eth.c — JSON-RPC client, chain readiness and the shared head tracker of
 * dstack-auth-eth.
 *
 * Readiness is reached in three steps, each logged once: eth_chainId
 * ("Connected to Ethereum RPC: <origin>"), code at KMS_CONTRACT_ADDR
 * ("KMS contract loaded: 0x…"), then a head block. Until then, and whenever
 * the chain cannot be read, requests fail fast and the tracker retries every
 * ETH_HEAD_POLL_MS. A refresh is single-flight: concurrent requests that
 * find the head too old wait for one refresh instead of each starting one.
 * Reads go through a pool of HTTP clients (one keep-alive connection each,
 * created on demand). Never logs the RPC URL beyond scheme://host:port.
 * spec: auth-eth §2.1-§2.4; issue 4 (head tracker, pinning, staleness).
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

struct head {
	uint64_t number;
	uint64_t timestamp; /* block time, unix seconds */
	int64_t fetched_ms; /* monotonic */
};

struct eth {
	struct eth_config cfg;
	char *rpc_url;
	char *kms_addr;
	char *env_file;
	char origin[256]; /* scheme://host[:port] only */
	int addr_ok;
	uint8_t kms[20];
	char kms_eip55[43];
	char addr_err[1024];

	pthread_mutex_t mu;
	pthread_cond_t cv; /* refresh finished, or stop */
	int connected;
	uint64_t chain_id;
	int loaded;
	int head_valid;
	struct head head;
	int refreshing;
	uint64_t refresh_gen;
	int last_ok;
	char last_err[ERR_MAX];
	int stop;

	pthread_mutex_t pool_mu;
	struct http_client *pool[POOL_MAX];
	int npool;

	pthread_t tracker;
	int tracker_started;
	int down;
	int64_t down_logged_ms;
	char down_msg[ERR_MAX]; /* reason last logged */
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void abs_deadline(int64_t deadline_ms, struct timespec *ts)
{
	ts->tv_sec = (time_t)(deadline_ms / 1000);
	ts->tv_nsec = (long)(deadline_ms % 1000) * 1000000;
}

/* ---- client pool ------------------------------------------------------ */

static struct http_client *pool_take(struct eth *e, struct err *err)
{
	pthread_mutex_lock(&e->pool_mu);
	struct http_client *c = e->npool ? e->pool[--e->npool] : NULL;
	pthread_mutex_unlock(&e->pool_mu);
	if (c)
		return c;
	struct http_client_opts o = {.user_agent = "dstack-auth-eth/" KMS_VERSION};
	return http_client_new(&o, err);
}

static void pool_put(struct eth *e, struct http_client *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&e->pool_mu);
	if (e->npool < POOL_MAX) {
		e->pool[e->npool++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&e->pool_mu);
	http_client_free(c);
}

/* ---- one JSON-RPC exchange -------------------------------------------- */

/* POSTs body and parses the answer to n requests with ids 1..n. */
static int rpc(struct eth *e, struct http_client *c, const struct buf *body, size_t n,
	       int64_t deadline_ms, struct jsonrpc_answers *ans, struct err *err)
{
	memset(ans, 0, sizeof *ans);
	long remain = (long)(deadline_ms - mono_ms());
	if (remain < 1)
		return err_set(err, "%s timed out after %ld ms", e->origin, e->cfg.timeout_ms);
	static const struct http_header hdrs[] = {{"Content-Type", "application/json"},
						  {"Accept", "application/json"}};
	struct http_request req = {
	    .method = "POST",
	    .url = e->rpc_url,
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
	if (http_client_do(c, &req, &resp, err) < 0)
		goto out;
	if (resp.status == 429) {
		err_set(err, "%s is rate-limiting (HTTP 429)", e->origin);
		goto out;
	}
	if (resp.status != 200) {
		err_set(err, "%s answered HTTP %ld", e->origin, resp.status);
		goto out;
	}
	if (jsonrpc_parse(resp.body.p, resp.body.len, 1, n, ans, err) < 0) {
		err_wrap(err, "%s", e->origin);
		goto out;
	}
	rc = 0;
out:
	http_response_free(&resp);
	return rc;
}

/* ---- readiness and head ----------------------------------------------- */

/* One refresh: whatever readiness step is missing, then the head block.
 * Runs without the lock (only one at a time: see get_head). */
static int refresh(struct eth *e, struct http_client *c, int64_t deadline_ms, struct err *err)
{
	struct buf body = BUF_INIT, data = BUF_INIT;
	struct jsonrpc_answers ans;
	memset(&ans, 0, sizeof ans);
	int rc = -1;

	pthread_mutex_lock(&e->mu);
	int connected = e->connected, loaded = e->loaded;
	uint64_t chain_id = e->chain_id;
	pthread_mutex_unlock(&e->mu);

	if (!connected) {
		TRY_OUT(jsonrpc_request(&body, 1, "eth_chainId", "[]"));
		if (rpc(e, c, &body, 1, deadline_ms, &ans, err) < 0) {
			err_wrap(err, "Ethereum RPC not usable (check ETH_RPC_URL in %s)",
				 e->env_file);
			goto out;
		}
		if (jsonrpc_quantity(ans.result[0], &chain_id, err) < 0) {
			err_wrap(err, "eth_chainId");
			goto out;
		}
		jsonrpc_answers_free(&ans);
		pthread_mutex_lock(&e->mu);
		e->connected = 1;
		e->chain_id = chain_id;
		pthread_mutex_unlock(&e->mu);
		log_info("Connected to Ethereum RPC: %s", e->origin);
		log_info("Ethereum chain id: %llu", (unsigned long long)chain_id);
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
		if (rpc(e, c, &body, 1, deadline_ms, &ans, err) < 0 ||
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
		e->loaded = 1;
		pthread_mutex_unlock(&e->mu);
		log_info("KMS contract loaded: %s", e->kms_eip55);
	}

	buf_reset(&body);
	TRY_OUT(buf_append_byte(&body, '['));
	TRY_OUT(jsonrpc_request(&body, 1, "eth_chainId", "[]"));
	TRY_OUT(buf_append_byte(&body, ','));
	TRY_OUT(jsonrpc_request(&body, 2, "eth_getBlockByNumber", "[\"latest\",false]"));
	TRY_OUT(buf_append_byte(&body, ']'));
	if (rpc(e, c, &body, 2, deadline_ms, &ans, err) < 0)
		goto out;
	uint64_t now_chain;
	struct head h;
	const json_t *blk = ans.result[1];
	if (jsonrpc_quantity(ans.result[0], &now_chain, err) < 0 || !json_is_object(blk) ||
	    jsonrpc_quantity(json_object_get(blk, "number"), &h.number, err) < 0 ||
	    jsonrpc_quantity(json_object_get(blk, "timestamp"), &h.timestamp, err) < 0) {
		err_set(err, "%s: eth_getBlockByNumber(latest) gave no block number and timestamp",
			e->origin);
		goto out;
	}
	h.fetched_ms = mono_ms();
	pthread_mutex_lock(&e->mu);
	if (now_chain != e->chain_id) {
		/* another chain behind the same URL: start over (and log it) */
		e->connected = e->loaded = e->head_valid = 0;
		pthread_mutex_unlock(&e->mu);
		err_set(err, "the Ethereum RPC %s switched from chain %llu to chain %llu",
			e->origin, (unsigned long long)chain_id, (unsigned long long)now_chain);
		goto out;
	}
	e->head = h;
	e->head_valid = 1;
	pthread_mutex_unlock(&e->mu);
	rc = 0;
out:
	jsonrpc_answers_free(&ans);
	buf_free(&body);
	buf_free(&data);
	return rc;
}

/*
 * The head to pin reads to: the tracked one when it was fetched at most
 * max_age_ms ago, else a refresh now (or the result of the refresh another
 * thread is running). Bounded by deadline_ms.
 */
static int get_head(struct eth *e, struct http_client *c, int64_t max_age_ms, int64_t deadline_ms,
		    struct head *out, struct err *err)
{
	struct timespec ts;
	abs_deadline(deadline_ms, &ts);
	pthread_mutex_lock(&e->mu);
	for (;;) {
		if (e->stop) {
			pthread_mutex_unlock(&e->mu);
			return err_set(err, "shutting down");
		}
		if (e->head_valid && e->loaded && mono_ms() - e->head.fetched_ms <= max_age_ms) {
			*out = e->head;
			pthread_mutex_unlock(&e->mu);
			return 0;
		}
		if (!e->refreshing) {
			e->refreshing = 1;
			pthread_mutex_unlock(&e->mu);
			struct err rerr;
			err_clear(&rerr);
			int ok = refresh(e, c, deadline_ms, &rerr) == 0;
			pthread_mutex_lock(&e->mu);
			e->refreshing = 0;
			e->refresh_gen++;
			e->last_ok = ok;
			snprintf(e->last_err, sizeof e->last_err, "%s", rerr.msg);
			pthread_cond_broadcast(&e->cv);
			if (ok && e->head_valid) {
				*out = e->head;
				pthread_mutex_unlock(&e->mu);
				return 0;
			}
			pthread_mutex_unlock(&e->mu);
			if (ok)
				return err_set(err, "chain head unavailable");
			return err_set(err, "%s", rerr.msg);
		}
		uint64_t gen = e->refresh_gen;
		while (e->refreshing && gen == e->refresh_gen && !e->stop) {
			if (pthread_cond_timedwait(&e->cv, &e->mu, &ts) != 0 &&
			    mono_ms() >= deadline_ms) {
				pthread_mutex_unlock(&e->mu);
				return err_set(err,
					       "%s timed out after %ld ms (chain head refresh)",
					       e->origin, e->cfg.timeout_ms);
			}
		}
		if (gen != e->refresh_gen) {
			if (!e->last_ok) {
				err_set(err, "%s", e->last_err);
				pthread_mutex_unlock(&e->mu);
				return -1;
			}
			if (e->head_valid) {
				*out = e->head;
				pthread_mutex_unlock(&e->mu);
				return 0;
			}
		}
	}
}

/* Head for a request: fails closed; ETH_STALE past ETH_MAX_BLOCK_AGE. */
static enum eth_rc request_head(struct eth *e, struct http_client *c, int64_t deadline_ms,
				int check_age, struct head *h, struct err *err)
{
	if (!e->addr_ok) {
		err_set(err, "%s", e->addr_err);
		return ETH_UNAVAILABLE;
	}
	if (get_head(e, c, e->cfg.poll_ms, deadline_ms, h, err) < 0)
		return ETH_UNAVAILABLE;
	if (check_age && e->cfg.max_block_age_s > 0) {
		int64_t age = (int64_t)time(NULL) - (int64_t)h->timestamp;
		if (age > e->cfg.max_block_age_s) {
			err_set(err, "head block %llu is %lld s old (ETH_MAX_BLOCK_AGE=%ld)",
				(unsigned long long)h->number, (long long)age,
				e->cfg.max_block_age_s);
			return ETH_STALE;
		}
	}
	return ETH_OK;
}

/* Appends one eth_call request (id) of calldata at block to body. */
static int add_call(struct eth *e, struct buf *body, unsigned id, const struct buf *calldata,
		    uint64_t block)
{
	struct buf params = BUF_INIT;
	int rc = -1;
	if (jsonrpc_call_params(&params, e->kms, calldata->p, calldata->len, block) == 0 &&
	    jsonrpc_request(body, id, "eth_call", buf_str(&params)) == 0)
		rc = 0;
	buf_free(&params);
	return rc;
}

/* ---- requests ---------------------------------------------------------- */

enum eth_rc eth_authorize(struct eth *e, int is_kms, const struct abi_boot_info *bi,
			  struct eth_decision *out, struct err *err)
{
	memset(out, 0, sizeof *out);
	int64_t deadline = mono_ms() + e->cfg.timeout_ms;
	struct buf call = BUF_INIT, gw = BUF_INIT, body = BUF_INIT, d1 = BUF_INIT, d2 = BUF_INIT;
	struct jsonrpc_answers ans;
	memset(&ans, 0, sizeof ans);
	enum eth_rc rc = ETH_UNAVAILABLE;
	struct http_client *c = pool_take(e, err);
	if (!c)
		goto out;
	struct head h;
	rc = request_head(e, c, deadline, 1, &h, err);
	if (rc != ETH_OK)
		goto out;
	rc = ETH_UNAVAILABLE;
	if (abi_encode_boot_info_call(is_kms ? ABI_SEL_IS_KMS_ALLOWED : ABI_SEL_IS_APP_ALLOWED, bi,
				      &call, err) < 0 ||
	    buf_append(&gw, ABI_SEL_GATEWAY_APP_ID, 4) < 0)
		goto out;
	/* spec §2.4 + issue 4: one batch, both calls at the same block */
	if (buf_append_byte(&body, '[') < 0 || add_call(e, &body, 1, &call, h.number) < 0 ||
	    buf_append_byte(&body, ',') < 0 || add_call(e, &body, 2, &gw, h.number) < 0 ||
	    buf_append_byte(&body, ']') < 0) {
		err_set(err, "out of memory");
		goto out;
	}
	if (rpc(e, c, &body, 2, deadline, &ans, err) < 0)
		goto out;
	struct abi_bytes reason, gid;
	if (jsonrpc_data(ans.result[0], &d1, err) < 0 ||
	    abi_decode_bool_string(d1.p, d1.len, &out->allowed, &reason, err) < 0) {
		err_wrap(err, "%s at block %llu", is_kms ? "isKmsAllowed" : "isAppAllowed",
			 (unsigned long long)h.number);
		goto out;
	}
	if (jsonrpc_data(ans.result[1], &d2, err) < 0 ||
	    abi_decode_string(d2.p, d2.len, &gid, err) < 0) {
		err_wrap(err, "gatewayAppId at block %llu", (unsigned long long)h.number);
		goto out;
	}
	if (buf_append(&out->reason, reason.p, reason.len) < 0 ||
	    buf_append(&out->gateway_app_id, gid.p, gid.len) < 0) {
		err_set(err, "out of memory");
		goto out;
	}
	rc = ETH_OK;
out:
	pool_put(e, c);
	jsonrpc_answers_free(&ans);
	buf_free(&call);
	buf_free(&gw);
	buf_free(&body);
	buf_free(&d1);
	buf_free(&d2);
	return rc;
}

void eth_decision_free(struct eth_decision *d)
{
	buf_free(&d->reason);
	buf_free(&d->gateway_app_id);
}

enum eth_rc eth_info(struct eth *e, struct eth_info *out, struct err *err)
{
	memset(out, 0, sizeof *out);
	int64_t deadline = mono_ms() + e->cfg.timeout_ms;
	struct buf gw = BUF_INIT, impl = BUF_INIT, body = BUF_INIT, d = BUF_INIT;
	struct jsonrpc_answers ans;
	memset(&ans, 0, sizeof ans);
	enum eth_rc rc = ETH_UNAVAILABLE;
	struct http_client *c = pool_take(e, err);
	if (!c)
		goto out;
	struct head h;
	rc = request_head(e, c, deadline, 0, &h, err);
	if (rc != ETH_OK)
		goto out;
	rc = ETH_UNAVAILABLE;
	if (buf_append(&gw, ABI_SEL_GATEWAY_APP_ID, 4) < 0 ||
	    buf_append(&impl, ABI_SEL_APP_IMPLEMENTATION, 4) < 0 ||
	    buf_append_byte(&body, '[') < 0 || jsonrpc_request(&body, 1, "eth_chainId", "[]") < 0 ||
	    buf_append_byte(&body, ',') < 0 || add_call(e, &body, 2, &gw, h.number) < 0 ||
	    buf_append_byte(&body, ',') < 0 || add_call(e, &body, 3, &impl, h.number) < 0 ||
	    buf_append_byte(&body, ']') < 0) {
		err_set(err, "out of memory");
		goto out;
	}
	if (rpc(e, c, &body, 3, deadline, &ans, err) < 0)
		goto out;
	struct abi_bytes gid;
	if (jsonrpc_quantity(ans.result[0], &out->chain_id, err) < 0) {
		err_wrap(err, "eth_chainId");
		goto out;
	}
	if (jsonrpc_data(ans.result[1], &d, err) < 0 ||
	    abi_decode_string(d.p, d.len, &gid, err) < 0 ||
	    buf_append(&out->gateway_app_id, gid.p, gid.len) < 0) {
		err_wrap(err, "gatewayAppId");
		goto out;
	}
	buf_reset(&d);
	if (jsonrpc_data(ans.result[2], &d, err) < 0 ||
	    abi_decode_address(d.p, d.len, out->app_implementation, err) < 0) {
		err_wrap(err, "appImplementation");
		goto out;
	}
	rc = ETH_OK;
out:
	pool_put(e, c);
	jsonrpc_answers_free(&ans);
	buf_free(&gw);
	buf_free(&impl);
	buf_free(&body);
	buf_free(&d);
	return rc;
}

void eth_info_free(struct eth_info *i)
{
	buf_free(&i->gateway_app_id);
}

enum eth_rc eth_is_registered(struct eth *e, const uint8_t app[20], int *registered,
			      struct err *err)
{
	int64_t deadline = mono_ms() + e->cfg.timeout_ms;
	struct buf call = BUF_INIT, body = BUF_INIT, d = BUF_INIT;
	struct jsonrpc_answers ans;
	memset(&ans, 0, sizeof ans);
	enum eth_rc rc = ETH_UNAVAILABLE;
	struct http_client *c = pool_take(e, err);
	if (!c)
		goto out;
	struct head h;
	rc = request_head(e, c, deadline, 1, &h, err);
	if (rc != ETH_OK)
		goto out;
	rc = ETH_UNAVAILABLE;
	if (abi_encode_address_call(ABI_SEL_REGISTERED_APPS, app, &call, err) < 0 ||
	    add_call(e, &body, 1, &call, h.number) < 0)
		goto out;
	if (rpc(e, c, &body, 1, deadline, &ans, err) < 0)
		goto out;
	if (jsonrpc_data(ans.result[0], &d, err) < 0 ||
	    abi_decode_bool(d.p, d.len, registered, err) < 0) {
		err_wrap(err, "registeredApps");
		goto out;
	}
	rc = ETH_OK;
out:
	pool_put(e, c);
	jsonrpc_answers_free(&ans);
	buf_free(&call);
	buf_free(&body);
	buf_free(&d);
	return rc;
}

/* ---- tracker ----------------------------------------------------------- */

static void tracker_report(struct eth *e, int ok, const char *msg)
{
	int64_t now = mono_ms();
	if (!ok) {
		/* log a new reason at once, the same one again every minute */
		if (!e->down || strcmp(msg, e->down_msg) != 0 ||
		    now - e->down_logged_ms >= DOWN_REMINDER_MS) {
			log_err("authorization backend unavailable: %s; answering \"authorization "
				"backend unavailable\" and retrying every %ld ms",
				msg, e->cfg.poll_ms);
			e->down_logged_ms = now;
			snprintf(e->down_msg, sizeof e->down_msg, "%s", msg);
		}
		e->down = 1;
		return;
	}
	if (e->down) {
		pthread_mutex_lock(&e->mu);
		unsigned long long n = (unsigned long long)e->head.number;
		pthread_mutex_unlock(&e->mu);
		log_info("authorization backend available again: head block %llu", n);
	}
	e->down = 0;
}

static void *tracker_main(void *arg)
{
	struct eth *e = arg;
	struct err err;
	struct http_client *c = NULL;
	/* refresh a little before requests would consider the head too old */
	int64_t early = e->cfg.poll_ms * 4 / 5;
	for (;;) {
		err_clear(&err);
		if (!c)
			c = pool_take(e, &err);
		int ok = 0;
		if (c) {
			struct head h;
			ok = get_head(e, c, early, mono_ms() + e->cfg.timeout_ms, &h, &err) == 0;
		}
		pthread_mutex_lock(&e->mu);
		int stop = e->stop;
		pthread_mutex_unlock(&e->mu);
		if (stop)
			break;
		tracker_report(e, ok, err.msg);

		pthread_mutex_lock(&e->mu);
		int64_t wake =
		    ok && e->head_valid ? e->head.fetched_ms + early : mono_ms() + e->cfg.poll_ms;
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
	pthread_mutex_init(&e->pool_mu, NULL);
	e->cfg = *c;
	e->rpc_url = strdup(c->rpc_url);
	e->kms_addr = strdup(c->kms_addr);
	e->env_file = strdup(c->env_file);
	if (!e->rpc_url || !e->kms_addr || !e->env_file) {
		eth_free(e);
		err_set(err, "out of memory");
		return NULL;
	}
	e->cfg.rpc_url = e->rpc_url;
	e->cfg.kms_addr = e->kms_addr;
	e->cfg.env_file = e->env_file;
	log_url_origin(c->rpc_url, e->origin, sizeof e->origin);
	struct err aerr;
	err_clear(&aerr);
	if (abi_parse_address(c->kms_addr, strlen(c->kms_addr), e->kms, &aerr) == 0) {
		e->addr_ok = 1;
		abi_eip55(e->kms, e->kms_eip55);
	} else {
		char shown[64];
		size_t j = 0;
		for (const char *p = c->kms_addr; *p && j + 1 < sizeof shown; p++)
			shown[j++] = (*p >= 0x20 && *p < 0x7f && *p != '"') ? *p : '?';
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
	if (pthread_create(&e->tracker, NULL, tracker_main, e) != 0)
		return err_set(err, "cannot start the chain head tracker thread");
	e->tracker_started = 1;
	return 0;
}

void eth_free(struct eth *e)
{
	if (!e)
		return;
	if (e->tracker_started) {
		pthread_mutex_lock(&e->mu);
		e->stop = 1;
		pthread_cond_broadcast(&e->cv);
		pthread_mutex_unlock(&e->mu);
		pthread_join(e->tracker, NULL);
	}
	for (int i = 0; i < e->npool; i++)
		http_client_free(e->pool[i]);
	pthread_mutex_destroy(&e->mu);
	pthread_mutex_destroy(&e->pool_mu);
	pthread_cond_destroy(&e->cv);
	free(e->rpc_url);
	free(e->kms_addr);
	free(e->env_file);
	free(e);
}
