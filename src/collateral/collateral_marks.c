/*
 * collateral_marks.c — collateral rollback protection: the highest
 * tcbEvaluationDataNumber accepted so far, one mark per FMSPC for TCB info and
 * one for the QE identity, kept in the cache directory as
 * "tcb-eval-marks.json". Intel raises the number with every TCB recovery, so
 * collateral below a mark is older than collateral already accepted and is
 * refused: a host replaying pre-recovery collateral (from its PCCS or into the
 * cache directory) would otherwise turn out-of-date platforms into UpToDate
 * ones. The file is read strictly and a damaged one is an error, never a
 * reset (a reset would re-open the rollback). Marks are raised by the caller
 * (collateral_source.c) only for collateral that verified. No locking here:
 * the caller serialises. spec: attestation §2.1 (tcbEvaluationDataNumber).
 */
#include "collateral/collateral_internal.h"

#include "util/fs.h"
#include "util/hex.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MARKS_FORMAT "dstack-kms tcb evaluation marks v1"
#define MARKS_MAX_FILE (256u << 10)

void collateral_marks_init(struct collateral_marks *m)
{
	memset(m, 0, sizeof *m);
}

void collateral_marks_free(struct collateral_marks *m)
{
	free(m->v);
	memset(m, 0, sizeof *m);
}

static struct collateral_mark *find_mark(const struct collateral_marks *m, const uint8_t fmspc[6])
{
	for (size_t i = 0; i < m->n; i++)
		if (memcmp(m->v[i].fmspc, fmspc, 6) == 0)
			return &m->v[i];
	return NULL;
}

static void fmspc_text(const uint8_t fmspc[6], char out[13])
{
	struct collateral_source_key k;
	memcpy(k.fmspc, fmspc, 6);
	k.ca = COLLATERAL_SOURCE_CA_PLATFORM;
	collateral_fmspc_hex(&k, out);
}

int collateral_marks_check(const struct collateral_marks *m, const uint8_t fmspc[6], uint32_t tcb,
			   uint32_t qe, struct err *err)
{
	const struct collateral_mark *t = find_mark(m, fmspc);
	char fm[13];
	if (t && tcb < t->tcb) {
		fmspc_text(fmspc, fm);
		return err_set(err,
			       "collateral rollback: TCB info for FMSPC %s has "
			       "tcbEvaluationDataNumber %u, below %u accepted before",
			       fm, tcb, t->tcb);
	}
	if (m->have_qe && qe < m->qe)
		return err_set(err,
			       "collateral rollback: QE identity has tcbEvaluationDataNumber %u, "
			       "below %u accepted before",
			       qe, m->qe);
	return 0;
}

/* Raises (or adds) the TCB info mark of fmspc: 1 raised, 0 unchanged, -1 no room. */
static int raise_tcb(struct collateral_marks *m, const uint8_t fmspc[6], uint32_t tcb,
		     struct err *err)
{
	struct collateral_mark *t = find_mark(m, fmspc);
	if (t) {
		if (tcb <= t->tcb)
			return 0;
		t->tcb = tcb;
		return 1;
	}
	if (m->n >= COLLATERAL_MARKS_MAX)
		return err_set(err,
			       "collateral rollback marks: too many FMSPCs (%d) to record another",
			       COLLATERAL_MARKS_MAX);
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 8;
		struct collateral_mark *v = realloc(m->v, cap * sizeof *v);
		if (!v)
			return err_set(err, "out of memory");
		m->v = v;
		m->cap = cap;
	}
	t = &m->v[m->n++];
	memcpy(t->fmspc, fmspc, 6);
	t->tcb = tcb;
	return 1;
}

int collateral_marks_raise(struct collateral_marks *m, const uint8_t fmspc[6], uint32_t tcb,
			   uint32_t qe, struct err *err)
{
	/* the TCB mark first: when it has no room, nothing changes */
	int raised = raise_tcb(m, fmspc, tcb, err);
	if (raised < 0)
		return -1;
	if (!m->have_qe || qe > m->qe) {
		m->have_qe = 1;
		m->qe = qe;
		raised = 1;
	}
	return raised;
}

int collateral_marks_copy(struct collateral_marks *dst, const struct collateral_marks *src)
{
	collateral_marks_init(dst);
	if (src->n) {
		if (!(dst->v = malloc(src->n * sizeof *dst->v)))
			return -1;
		memcpy(dst->v, src->v, src->n * sizeof *dst->v);
	}
	dst->n = dst->cap = src->n;
	dst->have_qe = src->have_qe;
	dst->qe = src->qe;
	return 0;
}

int collateral_marks_path(const char *dir, char *out, size_t outlen)
{
	return fs_join(out, outlen, dir, COLLATERAL_MARKS_FILE);
}

static int cmp_mark(const void *a, const void *b)
{
	return memcmp(((const struct collateral_mark *)a)->fmspc,
		      ((const struct collateral_mark *)b)->fmspc, 6);
}

int collateral_marks_write(const char *dir, const struct collateral_marks *m, struct err *err)
{
	char path[PATH_MAX + 64], fm[13];
	struct collateral_marks sorted;
	json_t *o = json_object(), *tcb = json_object();
	char *text = NULL;
	int rc = -1, bad = !o || !tcb;

	collateral_marks_init(&sorted);
	if (collateral_marks_path(dir, path, sizeof path) < 0) {
		json_decref(o);
		json_decref(tcb);
		return err_set(err, "collateral rollback marks path too long");
	}
	if (!bad && collateral_marks_copy(&sorted, m) < 0)
		bad = 1;
	if (!bad && sorted.n)
		qsort(sorted.v, sorted.n, sizeof *sorted.v, cmp_mark);
	bad = bad || json_object_set_new(o, "format", json_string(MARKS_FORMAT)) < 0;
	if (!bad && m->have_qe)
		bad = json_object_set_new(o, "qe_identity", json_integer((json_int_t)m->qe)) < 0;
	for (size_t i = 0; !bad && i < sorted.n; i++) {
		fmspc_text(sorted.v[i].fmspc, fm);
		bad = json_object_set_new(tcb, fm, json_integer((json_int_t)sorted.v[i].tcb)) < 0;
	}
	if (!bad) {
		bad = json_object_set_new(o, "tcb_info", tcb) < 0;
		tcb = NULL; /* owned by o either way */
	}
	if (!bad)
		text = json_dumps(o, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	if (!text) {
		err_set(err, "cannot serialize the collateral rollback marks (out of memory)");
		goto out;
	}
	size_t n = strlen(text);
	char *nl = realloc(text, n + 2);
	if (!nl) {
		err_set(err, "out of memory");
		goto out;
	}
	text = nl;
	text[n++] = '\n';
	text[n] = '\0';
	rc = fs_write_atomic(path, text, n, 0640, err);
out:
	free(text);
	json_decref(tcb);
	json_decref(o);
	collateral_marks_free(&sorted);
	return rc;
}

/* An integer member in [0, 2^32). */
static int get_u32(json_t *v, const char *what, uint32_t *out, struct err *err)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > (json_int_t)0xffffffffu)
		return err_set(err, "%s is not an integer in 0..4294967295", what);
	*out = (uint32_t)json_integer_value(v);
	return 0;
}

/* The document, strictly: exactly the members the writer emits. */
static int parse_marks(json_t *o, struct collateral_marks *m, struct err *err)
{
	const char *k;
	json_t *v;
	if (!json_is_object(o))
		return err_set(err, "not a JSON object");
	json_object_foreach(o, k, v)
	{
		if (strcmp(k, "format") != 0 && strcmp(k, "qe_identity") != 0 &&
		    strcmp(k, "tcb_info") != 0)
			return err_set(err, "unknown member \"%s\"", k);
	}
	const char *format = json_string_value(json_object_get(o, "format"));
	if (!format || strcmp(format, MARKS_FORMAT) != 0)
		return err_set(err, "\"format\" is not \"%s\"", MARKS_FORMAT);
	if ((v = json_object_get(o, "qe_identity")) != NULL) {
		TRY(get_u32(v, "\"qe_identity\"", &m->qe, err));
		m->have_qe = 1;
	}
	json_t *tcb = json_object_get(o, "tcb_info");
	if (!json_is_object(tcb))
		return err_set(err, "\"tcb_info\" is missing or not an object");
	if (json_object_size(tcb) > COLLATERAL_MARKS_MAX)
		return err_set(err, "more than %d FMSPCs", COLLATERAL_MARKS_MAX);
	json_object_foreach(tcb, k, v)
	{
		uint8_t fmspc[6];
		uint32_t n;
		char canon[13];
		if (strlen(k) != 12 || hex_decode_fixed(k, fmspc, 6) < 0)
			return err_set(err, "\"tcb_info\" key \"%.40s\" is not an FMSPC", k);
		fmspc_text(fmspc, canon);
		if (strcmp(canon, k) != 0)
			return err_set(err, "\"tcb_info\" key \"%s\" is not upper-case hex", k);
		TRY(get_u32(v, "a \"tcb_info\" mark", &n, err));
		TRY(raise_tcb(m, fmspc, n, err));
	}
	return 0;
}

int collateral_marks_read(const char *dir, struct collateral_marks *m, struct err *err)
{
	char path[PATH_MAX + 64];
	struct buf text = BUF_INIT;
	struct stat st;
	json_error_t je;
	json_t *o = NULL;
	int rc = -1;

	collateral_marks_init(m);
	if (collateral_marks_path(dir, path, sizeof path) < 0)
		return err_set(err, "collateral rollback marks path too long");
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 1;
		err_set(err, "stat: %s", strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		err_set(err, "not a regular file");
		goto out;
	}
	if (fs_read_file(path, MARKS_MAX_FILE, &text, err) < 0)
		goto out;
	if (memchr(text.p, '\0', text.len)) {
		err_set(err, "holds a NUL byte");
		goto out;
	}
	o = json_loadb((const char *)text.p, text.len, JSON_REJECT_DUPLICATES, &je);
	if (!o) {
		err_set(err, "not JSON: %s (line %d)", je.text, je.line);
		goto out;
	}
	if (parse_marks(o, m, err) < 0)
		goto out;
	rc = 0;
out:
	if (rc < 0) {
		collateral_marks_free(m);
		err_wrap(err,
			 "collateral rollback marks file %s is unreadable or corrupt; not starting "
			 "with reset marks (restore the file, or delete it deliberately: that "
			 "re-opens the rollback window)",
			 path);
	}
	json_decref(o);
	buf_free(&text);
	return rc;
}
