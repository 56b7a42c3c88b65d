/*
 * control.h — the local control socket ([core] control_socket, default
 * /var/run/kms/kms.sock): a Unix stream socket, mode 0660, that answers
 * every connection with one status document (JSON, then a newline) and
 * closes. Access is the file's: its owner (the service user) and its group.
 * The document never holds key material; `dstack-kmsctl status` reads it.
 */
#ifndef KMS_CONTROL_H
#define KMS_CONTROL_H

#include "util/buf.h"
#include "util/err.h"

struct kms;
struct kms_control;

#define CONTROL_FORMAT "dstack-kms status v1"

/*
 * Binds the socket and starts its thread. *out is NULL (and 0 returned) when
 * the socket is off ("") or when the default path's directory does not exist
 * (a warning says so). A path another live process answers on is refused,
 * as is a path that exists and is not a socket.
 */
int control_start(struct kms *k, struct kms_control **out, struct err *err);
/* Stops the thread, closes and unlinks the socket (NULL is fine). */
void control_stop(struct kms_control *c);

/* The status document itself (for tests and the socket's thread). */
int control_status_json(struct kms_control *c, struct buf *out, struct err *err);

#endif
