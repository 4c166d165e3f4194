/* PID 1 for the file-capability boot test: runs /usr/bin/cap-probe as uid
 * 65534 (no capabilities of its own), which prints its effective set as the
 * kernel computed it from the file's security.capability; then powers off.
 * The probe is this same binary, told apart by its name. */
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
	(void)argc;
	if (strstr(argv[0], "cap-probe")) {
		FILE *f = fopen("/proc/self/status", "r");
		char line[256];
		while (f && fgets(line, sizeof line, f))
			if (strncmp(line, "CapEff:", 7) == 0)
				dprintf(1, "CAP-PROBE uid=%d %s", (int)getuid(), line);
		return 0;
	}
	int console = open("/dev/console", O_WRONLY | O_NOCTTY);
	if (console >= 0) {
		dup2(console, 1);
		dup2(console, 2);
	}
	mount("proc", "/proc", "proc", 0, NULL);
	pid_t pid = fork();
	if (pid == 0) {
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(2);
		execl("/usr/bin/cap-probe", "/usr/bin/cap-probe", (char *)NULL);
		_exit(3);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	dprintf(1, "CAP-TEST-DONE status=%d\n", status);
	sync();
	reboot(RB_POWER_OFF);
	return 0;
}
