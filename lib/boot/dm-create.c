/* dm-create: for the boot shim, what the kernel's dm-init does with
 * dm-mod.create= when device-mapper is built in. Debian's kernel has dm-mod
 * as a module, so the kernel ignores the parameter; the shim loads the
 * modules and runs this, which reads the same parameter from /proc/cmdline
 * and creates the devices with the DM ioctls (busybox has no dmsetup).
 *
 * Format (the kernel's Documentation/admin-guide/device-mapper/dm-init.rst):
 *   <name>,<uuid>,<minor>,<flags>,<table>[,<table>]*[;<name>,...]*
 *   <table> = <start_sector> <num_sectors> <target_type> <target_args>
 * <flags> is "ro" or "rw"; <minor> may be empty. Block devices named in the
 * target arguments (/dev/...) are waited for, up to WAIT_SECONDS, as
 * dm-init's dm-mod.waitfor= would.
 *
 * Usage: dm-create [<dm-mod.create value>]   (default: from /proc/cmdline)
 * Exit 0: nothing to do, or every device created; 1: an error, printed. */
#include <errno.h>
#include <fcntl.h>
#include <linux/dm-ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define WAIT_SECONDS 10
#define MAX_TARGETS 256
#define CONTROL "/dev/mapper/control"
#define MAPPER_CTRL_MINOR 236 /* misc device minor of the DM control node */

static int fail(const char *what, const char *detail) {
	fprintf(stderr, "dm-create: error: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	return 1;
}

/* The value of dm-mod.create= (or dm_mod.create=) on a kernel command line,
 * quotes removed as the kernel's parameter parser removes them. */
static char *param_value(char *cmdline) {
	char *p = cmdline;
	while (*p) {
		while (*p == ' ' || *p == '\n' || *p == '\t')
			p++;
		if (!*p)
			break;
		char *start = p;
		int quoted = 0;
		while (*p && (quoted || (*p != ' ' && *p != '\n' && *p != '\t'))) {
			if (*p == '"')
				quoted = !quoted;
			p++;
		}
		if (*p)
			*p++ = '\0';
		if (*start == '"')
			start++;
		if (strncmp(start, "dm-mod.create=", 14) == 0 || strncmp(start, "dm_mod.create=", 14) == 0) {
			char *v = start + 14;
			if (*v == '"')
				v++;
			size_t n = strlen(v);
			if (n && v[n - 1] == '"')
				v[n - 1] = '\0';
			return v;
		}
	}
	return NULL;
}

static void init_io(struct dm_ioctl *io, size_t size, const char *name) {
	memset(io, 0, size);
	io->version[0] = DM_VERSION_MAJOR;
	io->version[1] = 0;
	io->version[2] = 0;
	io->data_size = size;
	io->data_start = sizeof(*io);
	snprintf(io->name, sizeof(io->name), "%s", name);
}

/* Wait for each /dev/ path among a table's arguments to be a block device. */
static int wait_for_devices(const char *args) {
	char copy[4096];
	snprintf(copy, sizeof(copy), "%s", args);
	for (char *save, *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		if (strncmp(tok, "/dev/", 5) != 0)
			continue;
		struct stat st;
		int tries = 0;
		while (stat(tok, &st) != 0 || !S_ISBLK(st.st_mode)) {
			if (++tries > WAIT_SECONDS * 10)
				return fail("block device did not appear", tok);
			usleep(100000);
		}
	}
	return 0;
}

struct target { unsigned long long start, length; char *type, *args; };

static int parse_table(char *s, struct target *t) {
	char *end;
	while (*s == ' ')
		s++;
	t->start = strtoull(s, &end, 10);
	if (end == s || *end != ' ')
		return fail("bad table (want <start> <length> <type> <args>)", s);
	s = end;
	t->length = strtoull(s, &end, 10);
	if (end == s || *end != ' ')
		return fail("bad table length", s);
	s = end + 1;
	while (*s == ' ')
		s++;
	t->type = s;
	char *sp = strchr(s, ' ');
	if (sp) {
		*sp = '\0';
		t->args = sp + 1;
	} else {
		t->args = s + strlen(s);
	}
	if (!*t->type || strlen(t->type) >= DM_MAX_TYPE_NAME)
		return fail("bad target type", t->type);
	return 0;
}

static int create_device(int control, char *spec) {
	/* <name>,<uuid>,<minor>,<flags>,<table>[,<table>]* */
	char *field[4];
	for (int i = 0; i < 4; i++) {
		char *comma = strchr(spec, ',');
		if (!comma)
			return fail("a device wants <name>,<uuid>,<minor>,<flags>,<table>", spec);
		*comma = '\0';
		field[i] = spec;
		spec = comma + 1;
	}
	const char *name = field[0], *uuid = field[1], *minor = field[2], *flags = field[3];
	if (!*name || strlen(name) >= DM_NAME_LEN)
		return fail("bad device name", name);
	int readonly;
	if (strcmp(flags, "ro") == 0)
		readonly = 1;
	else if (strcmp(flags, "rw") == 0)
		readonly = 0;
	else
		return fail("flags must be ro or rw", flags);

	struct target targets[MAX_TARGETS];
	int count = 0;
	for (char *save, *t = strtok_r(spec, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (count == MAX_TARGETS)
			return fail("too many tables", name);
		if (parse_table(t, &targets[count]) || wait_for_devices(targets[count].args))
			return 1;
		count++;
	}
	if (!count)
		return fail("no table for device", name);

	struct dm_ioctl create;
	init_io(&create, sizeof(create), name);
	snprintf(create.uuid, sizeof(create.uuid), "%s", uuid);
	if (*minor) {
		char *end;
		unsigned long m = strtoul(minor, &end, 10);
		if (*end)
			return fail("bad minor", minor);
		create.flags |= DM_PERSISTENT_DEV_FLAG;
		create.dev = ((m & 0xff) | ((m & ~0xffUL) << 12)); /* huge_encode_dev(MKDEV(0, m)) */
	}
	if (ioctl(control, DM_DEV_CREATE, &create) != 0)
		return fail("DM_DEV_CREATE failed", strerror(errno));

	size_t size = sizeof(struct dm_ioctl);
	for (int i = 0; i < count; i++)
		size += (sizeof(struct dm_target_spec) + strlen(targets[i].args) + 1 + 7) & ~(size_t)7;
	struct dm_ioctl *load = malloc(size);
	if (!load)
		return fail("out of memory", NULL);
	init_io(load, size, name);
	load->target_count = count;
	if (readonly)
		load->flags |= DM_READONLY_FLAG;
	char *at = (char *)load + sizeof(*load);
	for (int i = 0; i < count; i++) {
		struct dm_target_spec *ts = (struct dm_target_spec *)at;
		size_t len = (sizeof(*ts) + strlen(targets[i].args) + 1 + 7) & ~(size_t)7;
		ts->sector_start = targets[i].start;
		ts->length = targets[i].length;
		snprintf(ts->target_type, sizeof(ts->target_type), "%s", targets[i].type);
		strcpy(at + sizeof(*ts), targets[i].args);
		ts->next = len; /* offset of the next spec from this one */
		at += len;
	}
	if (ioctl(control, DM_TABLE_LOAD, load) != 0)
		return fail("DM_TABLE_LOAD failed (see the kernel's device-mapper message above)", strerror(errno));
	free(load);

	struct dm_ioctl resume;
	init_io(&resume, sizeof(resume), name);
	if (ioctl(control, DM_DEV_SUSPEND, &resume) != 0)
		return fail("resuming the device failed", strerror(errno));
	printf("dm-create: %s (%s) is ready\n", name, readonly ? "ro" : "rw");
	return 0;
}

int main(int argc, char **argv) {
	static char cmdline[65536];
	char *value;
	if (argc > 1) {
		value = argv[1];
	} else {
		FILE *f = fopen("/proc/cmdline", "r");
		if (!f)
			return fail("cannot read /proc/cmdline", strerror(errno));
		size_t n = fread(cmdline, 1, sizeof(cmdline) - 1, f);
		fclose(f);
		cmdline[n] = '\0';
		value = param_value(cmdline);
		if (!value)
			return 0;
	}
	int control = open(CONTROL, O_RDWR);
	if (control < 0 && errno == ENOENT) {
		mkdir("/dev/mapper", 0755);
		if (mknod(CONTROL, S_IFCHR | 0600, makedev(10, MAPPER_CTRL_MINOR)) == 0)
			control = open(CONTROL, O_RDWR);
	}
	if (control < 0)
		return fail("cannot open " CONTROL " (is dm-mod loaded?)", strerror(errno));
	for (char *save, *dev = strtok_r(value, ";", &save); dev; dev = strtok_r(NULL, ";", &save))
		if (create_device(control, dev))
			return 1;
	return 0;
}
