/*
 * main.c — dstack-kmsctl entry point (placeholder).
 */
#include <stdio.h>
int main(void)
{
	fprintf(stderr, "dstack-kmsctl: not yet\n");
	return 1;
}
