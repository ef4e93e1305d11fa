/* erpulse-collector: entry point. */
#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f, "Usage: erpulse-collector [--config PATH] COMMAND\n"
		   "  run            serve HTTP(S)\n"
		   "  once           one cycle\n"
		   "  enroll         enroll with a collector\n"
		   "  check-config   validate the configuration\n"
		   "  status         show enrollment and delivery state\n"
		   "  --version      print the version\n");
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		printf("erpulse-collector %s\n", EP_VERSION);
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	usage(stderr);
	return 2;
}
