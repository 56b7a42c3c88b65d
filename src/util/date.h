/*
 * date.h — calendar arithmetic in UTC without the C library's time zone
 * state: proleptic Gregorian dates <-> Unix days (H. Hinnant's algorithms),
 * broken-down UTC time -> Unix seconds (what timegm does, for every year), and
 * RFC 3339 text. The one date helper of the project: certificates, collateral
 * dates and messages all use it.
 */
#ifndef UTIL_DATE_H
#define UTIL_DATE_H

#include <stdint.h>
#include <time.h>

/* Unix seconds of 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z. */
#define DATE_MIN_YEAR1 ((int64_t)-62135596800LL)
#define DATE_MAX_YEAR9999 ((int64_t)253402300799LL)

/* Days since 1970-01-01 of year y, month m (1..12), day d (1..31). */
int64_t date_days_from_civil(int64_t y, int m, int d);
/* The date of a Unix day number. */
void date_civil_from_days(int64_t days, int64_t *y, int *m, int *d);
/* Unix seconds of a broken-down UTC time (tm_year + 1900, tm_mon + 1, ...);
 * fields are taken as they are (no normalisation). */
int64_t date_unix_from_tm(const struct tm *tm);
/* "YYYY-MM-DDTHH:MM:SSZ" into out; -1 (out = "") outside years 1..9999. */
int date_format_rfc3339(int64_t t, char out[32]);

#endif
