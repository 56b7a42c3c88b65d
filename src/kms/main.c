/*
 * main.c — dstack-kms entry point (placeholder until the service lands).
 */
#include <stdio.h>
int main(void)
{
	fprintf(stderr, "dstack-kms: not yet\n");
	return 1;
}
