/*
 * main.c — simtee, the simulated TEE for tests: a table of subcommands (pki,
 * collateral, quote, ratls-cert, serve, app), each with its own --help.
 * TEST-ONLY: built by mk/simtee.mk into build/tests/simtee, never into
 * dstack-kms, dstack-kmsctl or dstack-auth-eth; everything it signs uses test
 * credentials. spec: attestation §5 (mock-attestation / tee-simulator).
 */
#include "simtee.h"

#include <stdio.h>
#include <string.h>

struct command {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

static const struct command COMMANDS[] = {
    {"pki", "derive an Intel-shaped mock DCAP PKI from a seed", sim_cmd_pki},
    {"collateral", "write collateral JSON signed by that PKI", sim_cmd_collateral},
    {"quote", "write a TDX quote signed by that PKI", sim_cmd_quote},
    {"ratls-cert", "write an RA-TLS client certificate issued by a KMS temp CA",
     sim_cmd_ratls_cert},
    {"serve", "run a mock PCCS on 127.0.0.1", sim_cmd_serve},
    {"agent", "run a simulated dstack guest agent (Attest, Info)", sim_cmd_agent},
    {"app", "make a simulated app: a self-signed RA-TLS certificate with a fresh quote",
     sim_cmd_app},
};

static void usage(FILE *f)
{
	fputs("usage: simtee COMMAND [options]   (simtee COMMAND --help for its options)\n"
	      "\n"
	      "The simulated TEE for tests: an Intel-shaped mock DCAP PKI, collateral, TDX\n"
	      "quotes, RA-TLS client certificates and a mock PCCS, so tests exercise the\n"
	      "full verification path without TDX hardware. TEST CREDENTIALS ONLY: trust\n"
	      "its root only as an explicit test anchor.\n"
	      "\n"
	      "Commands:\n",
	      f);
	for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
		fprintf(f, "  %-12s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
	fputs(
	    "\n"
	    "Typical use:\n"
	    "  simtee pki --seed $(printf '11%.0s' $(seq 32)) --out pki\n"
	    "  simtee collateral --pki pki --now 1768435200 --out col.json\n"
	    "  simtee quote --pki pki --app-id HEX20 --compose-hash HEX32 --instance-id HEX20 \\\n"
	    "      --report-data HEX --out quote.bin\n"
	    "  simtee ratls-cert --pki pki --tmp-ca-cert tmp-ca.crt --tmp-ca-key tmp-ca.key \\\n"
	    "      --app-id HEX20 --compose-hash HEX32 --instance-id HEX20 \\\n"
	    "      --out-cert c.pem --out-key k.pem\n"
	    "  simtee serve --pki pki --port 0\n"
	    "Exit status: 0 success, 1 failure, 2 usage error.\n",
	    f);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
		if (!strcmp(argv[1], COMMANDS[i].name))
			return COMMANDS[i].run(argc - 1, argv + 1);
	fprintf(stderr, "simtee: unknown command '%s' (see simtee --help)\n", argv[1]);
	return 2;
}
