/*
 * self_attest.c — the KMS's own verified BootInfo (self_attest.h).
 * spec: kms-protocol §4 (SelfAuth: Attest(0^64), verify without key
 * binding, BootInfo boottime = false, vm_config = "").
 */
#include "kms/self_attest.h"

#include "attest/appinfo.h"
#include "kms/guest_agent.h"
#include "kms/kms.h"
#include "util/buf.h"
#include "util/log.h"

#include <string.h>
#include <time.h>

void self_attest_init(struct self_attest *s)
{
	memset(s, 0, sizeof *s);
	pthread_mutex_init(&s->mu, NULL);
	boot_info_init(&s->bi);
}

void self_attest_free(struct self_attest *s)
{
	boot_info_free(&s->bi);
	pthread_mutex_destroy(&s->mu);
}

int self_attest_fresh(struct kms *k, struct verified_peer *vp, struct boot_info *bi,
		      struct err *err)
{
	struct verified_peer local;
	struct verified_peer *p = vp ? vp : &local;
	memset(p, 0, sizeof *p);
	attestation_init(&p->att);
	boot_info_init(bi);
	if (!k->agent)
		return err_set(err, "no guest agent configured");
	static const uint8_t zero[64];
	struct buf raw = BUF_INIT;
	int busy = 0, rc = -1;
	if (guest_agent_attest(k->agent, zero, &raw, err) < 0)
		goto out;
	if (attestation_decode(raw.p, raw.len, &p->att, err) < 0) {
		err_wrap(err, "the guest agent's attestation does not decode");
		goto out;
	}
	if (peer_attest_verify_unbound(&k->peer, (int64_t)time(NULL), p, &busy, err) < 0) {
		err_wrap(err, "the KMS's own attestation does not verify");
		goto out;
	}
	if (appinfo_boot_info(&p->att, &p->dcap.report, &p->dcap, 0, "", 0, bi, err) < 0)
		goto out;
	rc = 0;
out:
	buf_free(&raw);
	if (rc < 0 || !vp)
		verified_peer_free(p);
	if (rc < 0)
		boot_info_free(bi);
	return rc;
}

int self_attest_cached(struct kms *k, const struct boot_info **bi, struct err *err)
{
	struct self_attest *s = &k->self;
	if (atomic_load_explicit(&s->ready, memory_order_acquire)) {
		*bi = &s->bi;
		return 0;
	}
	pthread_mutex_lock(&s->mu);
	int rc = 0;
	if (!atomic_load_explicit(&s->ready, memory_order_relaxed)) {
		struct boot_info fresh;
		rc = self_attest_fresh(k, NULL, &fresh, err);
		if (rc == 0) {
			s->bi = fresh; /* moved: fresh is not freed */
			atomic_store_explicit(&s->ready, 1, memory_order_release);
		}
	}
	pthread_mutex_unlock(&s->mu);
	if (rc == 0)
		*bi = &s->bi;
	return rc;
}
