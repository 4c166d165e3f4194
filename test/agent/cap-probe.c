/* Guest init for the file-capability check. As PID 1 it runs two copies of
 * itself as uid/gid 65534 (no capabilities left after dropping root):
 * /usr/bin/cap-check, which holds cap_net_raw+ep as a file capability, and
 * /usr/bin/no-cap, which holds none. Each tries a raw packet socket (needs
 * CAP_NET_RAW) and reports; then the marker, then power off. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/if_ether.h>
#include <stdio.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void say(int fd, const char *s) {
	(void)!write(fd, s, strlen(s));
}

static void run_unprivileged(const char *path) {
	pid_t pid = fork();
	if (pid == 0) {
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534)) {
			say(1, "CAP-CHECK cannot drop root\n");
			_exit(2);
		}
		execl(path, path, "check", (char *)NULL);
		say(1, "CAP-CHECK exec failed\n");
		_exit(3);
	}
	int status;
	waitpid(pid, &status, 0);
}

int main(int argc, char **argv) {
	if (argc > 1 && strcmp(argv[1], "check") == 0) {
		int s = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
		char line[160];
		snprintf(line, sizeof line, "CAP-CHECK %s uid=%d raw-socket=%s\n", argv[0], (int)getuid(), s >= 0 ? "OK" : "DENIED");
		say(1, line);
		return s >= 0 ? 0 : 1;
	}
	run_unprivileged("/usr/bin/cap-check");
	run_unprivileged("/usr/bin/no-cap");
	int console = open("/dev/console", O_WRONLY | O_NOCTTY);
	say(console >= 0 ? console : 1, "KATA-TEST-AGENT-READY\n");
	sync();
	reboot(RB_POWER_OFF);
	return 0;
}
