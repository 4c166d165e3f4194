/* Test stand-in for kata-agent: report the guest extensions mounted under
 * /run/kata-extensions (each one's marker file), announce readiness on the
 * console and power the VM off. Works as /sbin/init (PID 1) and as a systemd
 * service. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <unistd.h>

#define MARKER "KATA-TEST-AGENT-READY\n"
#define EXTENSIONS "/run/kata-extensions"

static void say(int fd, const char *text) {
	if (fd >= 0)
		(void)!write(fd, text, strlen(text));
}

/* One line per extension: "KATA-TEST-AGENT-EXTENSION <name>: <marker>"
 * when it is a mount of its own with a readable marker file. */
static void report_extensions(int fd) {
	DIR *dir = opendir(EXTENSIONS);
	struct stat parent, st;
	struct dirent *e;
	if (!dir || stat(EXTENSIONS, &parent) != 0) {
		if (dir)
			closedir(dir);
		return;
	}
	while ((e = readdir(dir))) {
		char path[512], line[512], marker[128];
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, EXTENSIONS "/%s", e->d_name);
		if (stat(path, &st) != 0 || st.st_dev == parent.st_dev) {
			snprintf(line, sizeof line, "KATA-TEST-AGENT-EXTENSION %s: not mounted\n", e->d_name);
			say(fd, line);
			continue;
		}
		snprintf(path, sizeof path, EXTENSIONS "/%s/marker", e->d_name);
		int m = open(path, O_RDONLY);
		ssize_t n = m >= 0 ? read(m, marker, sizeof marker - 1) : -1;
		if (n < 0)
			snprintf(line, sizeof line, "KATA-TEST-AGENT-EXTENSION %s: no marker (%s)\n", e->d_name, strerror(errno));
		else {
			marker[n] = 0;
			marker[strcspn(marker, "\n")] = 0;
			snprintf(line, sizeof line, "KATA-TEST-AGENT-EXTENSION %s: %s\n", e->d_name, marker);
		}
		if (m >= 0)
			close(m);
		say(fd, line);
	}
	closedir(dir);
}

int main(int argc, char **argv) {
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		say(1, MARKER);
		return 0;
	}
	int console = open("/dev/console", O_WRONLY | O_NOCTTY);
	int out = console >= 0 ? console : 1;
	report_extensions(out);
	say(out, MARKER);
	sync();
	reboot(RB_POWER_OFF);
	/* Not allowed to power off (e.g. run by hand): just exit. */
	return 0;
}
