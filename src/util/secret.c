/*
 * secret.c — wiping and constant-time comparison (secret.h).
 */
#include "util/secret.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define SECRET_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SECRET_ASAN 1
#endif
#endif

void secret_wipe(void *p, size_t n)
{
	if (p && n)
		OPENSSL_cleanse(p, n);
}

void secret_free(void *p, size_t n)
{
	if (!p)
		return;
	OPENSSL_cleanse(p, n);
	free(p);
}

int secret_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

static size_t page_round(size_t n)
{
	long ps = sysconf(_SC_PAGESIZE);
	size_t p = ps > 0 ? (size_t)ps : 4096;
	return (n + p - 1) / p * p;
}

void *secret_page_alloc(size_t n, struct err *err)
{
	size_t len = page_round(n ? n : 1);
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		err_set(err, "cannot map memory for keys: %s", strerror(errno));
		return NULL;
	}
	if (madvise(p, len, MADV_DONTDUMP) != 0) {
		err_set(err, "cannot keep key memory out of core dumps: %s", strerror(errno));
		munmap(p, len);
		return NULL;
	}
	if (mlock(p, len) != 0) {
		int e = errno;
		struct rlimit lim;
		/* EPERM with a non-zero limit is a seccomp filter (a container
		 * manager's), not the limit: name the remedy that applies */
		int limited =
		    e == ENOMEM || (getrlimit(RLIMIT_MEMLOCK, &lim) == 0 && lim.rlim_cur < len);
		err_set(err, "cannot lock key memory in RAM (mlock: %s; %s)", strerror(e),
			limited ? "raise LimitMEMLOCK= of the unit or ulimit -l"
				: "a seccomp filter refuses mlock: allow the @memlock calls, e.g. "
				  "systemd-nspawn --system-call-filter=@memlock");
		munmap(p, len);
		return NULL;
	}
	return p;
}

void secret_page_free(void *p, size_t n)
{
	if (!p)
		return;
	size_t len = page_round(n ? n : 1);
	OPENSSL_cleanse(p, len);
	munlock(p, len);
	munmap(p, len);
}

int secret_process_protect(struct err *err)
{
	struct rlimit zero = {0, 0}, cur;
	if (setrlimit(RLIMIT_CORE, &zero) != 0 &&
	    (getrlimit(RLIMIT_CORE, &cur) != 0 || cur.rlim_cur != 0))
		return err_set(err, "cannot set the core dump size to 0: %s (set LimitCORE=0)",
			       strerror(errno));
#ifndef SECRET_ASAN
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return err_set(err, "cannot make the process non-dumpable: %s", strerror(errno));
#endif
	return 0;
}
