/*
 * admin.h — the admin listener (kms-protocol §15): plain HTTP on
 * [core.admin] address:port (default 127.0.0.1:8001), prpc `Admin.` with
 * ClearImageCache, every request authenticated by a shared token
 * (X-Admin-Token or Authorization: Bearer) or a bcrypt htpasswd user (Basic).
 */
#ifndef KMS_ADMIN_H
#define KMS_ADMIN_H

#include "util/err.h"

struct kms;
struct admin;

/* Loads the credentials (fail closed: enabled without any credential and
 * without insecure_no_auth is an error) and starts the listener. */
struct admin *admin_start(struct kms *k, struct err *err);
void admin_stop(struct admin *a);
int admin_port(const struct admin *a);

#endif
