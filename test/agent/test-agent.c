/* Test stand-in for kata-agent: announce readiness on the console and power
 * the VM off. Works as /sbin/init (PID 1) and as a systemd service. */
#include <fcntl.h>
#include <string.h>
#include <sys/reboot.h>
#include <unistd.h>

#define MARKER "KATA-TEST-AGENT-READY\n"

static void say(int fd) {
	if (fd >= 0)
		(void)!write(fd, MARKER, strlen(MARKER));
}

int main(int argc, char **argv) {
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		say(1);
		return 0;
	}
	int console = open("/dev/console", O_WRONLY | O_NOCTTY);
	say(console);
	if (console < 0)
		say(1);
	sync();
	reboot(RB_POWER_OFF);
	/* Not allowed to power off (e.g. run by hand): just exit. */
	return 0;
}
