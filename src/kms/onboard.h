/*
 * onboard.h — the onboard service (kms-protocol §1 phase 2, §12): a plain
 * HTTP listener on [core.onboard] address:port that serves while the key
 * set is missing, with Onboard.Bootstrap, Onboard.Onboard,
 * Onboard.GetAttestationInfo, Onboard.Finish, GET /finish and the
 * self-contained setup page at GET /.
 */
#ifndef KMS_ONBOARD_H
#define KMS_ONBOARD_H

#include "util/err.h"

#include <signal.h>

struct kms;

/* Serves until Finish (or GET /finish) once a key set exists, or until one
 * of sigs arrives (*sig set, returns 0). Sends READY=1 with
 * STATUS=onboarding once the listener serves. */
int onboard_run(struct kms *k, const sigset_t *sigs, int *sig, struct err *err);

/* The setup page (onboard_page.c). */
extern const char ONBOARD_PAGE_HTML[];

#endif
