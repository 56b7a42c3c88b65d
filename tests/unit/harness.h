/*
 * harness.h — the unit-test harness: TEST() registers a function, CHECK*()
 * assert and end the test on the first failure. The runner prints one
 * "PASS: name" or "FAIL: name: file:line: why" line per test; tests/run.sh
 * counts them.
 */
#ifndef TESTS_HARNESS_H
#define TESTS_HARNESS_H

#include <stddef.h>
#include <stdint.h>

void t_register(const char *name, void (*fn)(void));
void t_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Marks the running test skipped: the runner prints "SKIP: name: reason"
 * instead of PASS (the caller returns right after). */
void t_skip(const char *reason);
/* 1 in a build with AddressSanitizer (make test-asan), where some libc calls
 * (mlock) are intercepted and behave differently. */
#if defined(__SANITIZE_ADDRESS__)
#define T_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define T_ASAN 1
#endif
#endif
#ifndef T_ASAN
#define T_ASAN 0
#endif
/* Path of a file under tests/vectors (static buffer, one at a time per call site). */
const char *t_vector(const char *rel);
/* Path of a fresh empty temp directory for this test (removed at exit). */
const char *t_tmpdir(void);
/* Reads a whole vector file; returns malloc'd bytes (caller frees) or NULL. */
uint8_t *t_read_vector(const char *rel, size_t *len);
/* Decode hex (no 0x) into a malloc'd buffer; NULL on bad hex. */
uint8_t *t_unhex(const char *hex, size_t *len);
int t_hex_equal(const uint8_t *p, size_t n, const char *hex);

#define TEST(name)                                                                                 \
	static void name(void);                                                                    \
	__attribute__((constructor)) static void name##_register(void)                             \
	{                                                                                          \
		t_register(#name, name);                                                           \
	}                                                                                          \
	static void name(void)

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			t_fail(__FILE__, __LINE__, "CHECK(%s)", #c);                               \
			return;                                                                    \
		}                                                                                  \
	} while (0)

#define CHECK_MSG(c, ...)                                                                          \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			t_fail(__FILE__, __LINE__, __VA_ARGS__);                                   \
			return;                                                                    \
		}                                                                                  \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
	do {                                                                                       \
		long long _a = (long long)(a), _b = (long long)(b);                                \
		if (_a != _b) {                                                                    \
			t_fail(__FILE__, __LINE__, "%s == %lld, expected %lld", #a, _a, _b);       \
			return;                                                                    \
		}                                                                                  \
	} while (0)

#define CHECK_EQ_STR(a, b)                                                                         \
	do {                                                                                       \
		const char *_a = (a), *_b = (b);                                                   \
		if (!_a || !_b || strcmp(_a, _b) != 0) {                                           \
			t_fail(__FILE__, __LINE__, "%s == \"%s\", expected \"%s\"", #a,            \
			       _a ? _a : "(null)", _b ? _b : "(null)");                            \
			return;                                                                    \
		}                                                                                  \
	} while (0)

#define CHECK_CONTAINS(hay, needle)                                                                \
	do {                                                                                       \
		const char *_h = (hay), *_n = (needle);                                            \
		if (!_h || !strstr(_h, _n)) {                                                      \
			t_fail(__FILE__, __LINE__, "%s = \"%s\" does not contain \"%s\"", #hay,    \
			       _h ? _h : "(null)", _n);                                            \
			return;                                                                    \
		}                                                                                  \
	} while (0)

/* Compare n bytes at p with an expected lowercase/uppercase hex string. */
#define CHECK_HEX(p, n, hex)                                                                       \
	do {                                                                                       \
		if (!t_hex_equal((const uint8_t *)(p), (n), (hex))) {                              \
			t_fail(__FILE__, __LINE__, "%s differs from expected %s", #p, (hex));      \
			return;                                                                    \
		}                                                                                  \
	} while (0)

/* expr must return >= 0; prints the err message otherwise. */
#define CHECK_OK(expr, e)                                                                          \
	do {                                                                                       \
		if ((expr) < 0) {                                                                  \
			t_fail(__FILE__, __LINE__, "%s failed: %s", #expr, (e)->msg);              \
			return;                                                                    \
		}                                                                                  \
	} while (0)

#define CHECK_FAILS(expr)                                                                          \
	do {                                                                                       \
		if ((expr) >= 0) {                                                                 \
			t_fail(__FILE__, __LINE__, "%s succeeded, expected failure", #expr);       \
			return;                                                                    \
		}                                                                                  \
	} while (0)

#endif
