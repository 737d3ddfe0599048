/*
 * config.c - options and the config file from one table. Order of
 * precedence: embedded defaults, then the file named by --config, then the
 * command line. Every value is checked against its range before the
 * session starts, so an operator error ends the run before the banner with
 * a message on stderr.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>

#include "limits.h"

enum type { T_STRING, T_BOOL, T_SIZE, T_COUNT, T_SECONDS };

struct setting {
	const char *name;
	enum type type;
	size_t offset;
	uint64_t min, max;
	const char *help;
	int (*valid)(const char *v); /* for strings: 1 when v is acceptable */
};

#define OFF(field) offsetof(struct config, field)

static int valid_banner(const char *v);
static int valid_hostname(const char *v);
static int valid_nonempty(const char *v);
static int valid_sensor(const char *v);
static int valid_any(const char *v);
static int valid_auth(const char *v);
static int valid_auth_without_tls(const char *v);
static int valid_tls(const char *v);

/* Sorted by name; the option table and the config file keys are this. */
static const struct setting settings[] = {
	{ "auth", T_STRING, OFF(auth), 0, 0, "fail, accept or accept-after=N (AUTH answers)", valid_auth },
	{ "auth-without-tls", T_STRING, OFF(auth_without_tls), 0, 0,
	  "auto, yes or no (offer AUTH before STARTTLS)", valid_auth_without_tls },
	{ "banner", T_STRING, OFF(banner), 0, 0, "text after the host name in the 220 greeting", valid_banner },
	{ "hostname", T_STRING, OFF(hostname), 0, 0, "host name shown to clients", valid_hostname },
	{ "idle-timeout", T_SECONDS, OFF(idle_timeout), 1, MAX_TIMEOUT, "seconds one read may wait", NULL },
	{ "journal", T_BOOL, OFF(journal), 0, 1, "write events to the systemd journal", NULL },
	{ "log-file", T_STRING, OFF(log_file), 0, 0, "append events as JSON lines to this file",
	  valid_nonempty },
	{ "max-auth-tries", T_COUNT, OFF(max_auth_tries), 1, 1000000, "AUTH attempts per session", NULL },
	{ "max-commands", T_COUNT, OFF(max_commands), 1, 1000000, "commands per session", NULL },
	{ "max-errors", T_COUNT, OFF(max_errors), 1, 1000000, "error replies per session", NULL },
	{ "max-line-length", T_SIZE, OFF(max_line_length), MIN_LINE_LENGTH, MAX_LINE_LENGTH,
	  "bytes in a command line", NULL },
	{ "max-message-size", T_SIZE, OFF(max_message_size), 1, MAX_MESSAGE_SIZE,
	  "bytes of a message that are kept", NULL },
	{ "max-recipients", T_COUNT, OFF(max_recipients), 1, 1000000, "recipients per message", NULL },
	{ "sensor", T_STRING, OFF(sensor), 0, 0, "sensor name in events", valid_sensor },
	{ "session-timeout", T_SECONDS, OFF(session_timeout), 1, MAX_TIMEOUT,
	  "seconds a whole session may last", NULL },
	{ "spool-dir", T_STRING, OFF(spool_dir), 0, 0, "directory for raw messages (empty: none)",
	  valid_any },
	{ "tls", T_STRING, OFF(tls), 0, 0, "starttls, implicit or no", valid_tls },
	{ "tls-cert", T_STRING, OFF(tls_cert), 0, 0, "certificate chain (PEM) for TLS", valid_nonempty },
	{ "tls-key", T_STRING, OFF(tls_key), 0, 0, "private key (PEM) for TLS", valid_nonempty },
	{ "tls-module", T_STRING, OFF(tls_module), 0, 0, "the TLS module, smtpot-tls, run when TLS starts",
	  valid_nonempty },
};

#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

static char *dup_or_die(const char *s)
{
	char *d = strdup(s);

	if (d == NULL) {
		perror("smtpot");
		exit(71); /* EX_OSERR */
	}
	return d;
}

void config_defaults(struct config *c)
{
	struct utsname u;

	memset(c, 0, sizeof(*c));
	if (uname(&u) < 0 || u.nodename[0] == '\0')
		snprintf(u.nodename, sizeof(u.nodename), "localhost");
	c->hostname = dup_or_die(u.nodename);
	c->sensor = dup_or_die(u.nodename);
	c->banner = dup_or_die(DEFAULT_BANNER);
	c->spool_dir = dup_or_die(DEFAULT_SPOOL_DIR);
	c->max_line_length = DEFAULT_MAX_LINE_LENGTH;
	c->max_message_size = DEFAULT_MAX_MESSAGE_SIZE;
	c->max_recipients = DEFAULT_MAX_RECIPIENTS;
	c->max_commands = DEFAULT_MAX_COMMANDS;
	c->max_errors = DEFAULT_MAX_ERRORS;
	c->idle_timeout = DEFAULT_IDLE_TIMEOUT;
	c->session_timeout = DEFAULT_SESSION_TIMEOUT;
	c->auth = dup_or_die("fail");
	c->auth_without_tls = dup_or_die("auto");
	c->max_auth_tries = DEFAULT_MAX_AUTH_TRIES;
	c->tls = dup_or_die("starttls");
	c->tls_module = dup_or_die(DEFAULT_TLS_MODULE);
}

void config_free(struct config *c)
{
	free(c->hostname);
	free(c->banner);
	free(c->sensor);
	free(c->spool_dir);
	free(c->log_file);
	free(c->auth);
	free(c->auth_without_tls);
	free(c->tls);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->tls_module);
	memset(c, 0, sizeof(*c));
}

/* A number with an optional unit: K/M/G for sizes, s/m/h for seconds. */
static int parse_number(const char *v, enum type t, uint64_t *out)
{
	unsigned long long n;
	char *end;
	uint64_t mul = 1;

	if (*v < '0' || *v > '9')
		return -1;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno != 0)
		return -1;
	if (*end != '\0') {
		if (end[1] != '\0')
			return -1;
		if (t == T_SIZE && strchr("kK", *end))
			mul = 1024;
		else if (t == T_SIZE && strchr("mM", *end))
			mul = 1024 * 1024;
		else if (t == T_SIZE && strchr("gG", *end))
			mul = 1024ULL * 1024 * 1024;
		else if (t == T_SECONDS && *end == 's')
			mul = 1;
		else if (t == T_SECONDS && *end == 'm')
			mul = 60;
		else if (t == T_SECONDS && *end == 'h')
			mul = 3600;
		else
			return -1;
	}
	if (n > UINT64_MAX / mul)
		return -1;
	*out = n * mul;
	return 0;
}

/* Text that goes into replies: printable ASCII, no space in a host name. */
static int reply_safe(const char *v, int allow_space)
{
	if (*v == '\0')
		return 0;
	for (; *v != '\0'; v++) {
		if (*v < (allow_space ? ' ' : '!') || *v > '~')
			return 0;
	}
	return 1;
}

static int valid_banner(const char *v)
{
	return reply_safe(v, 1) && strlen(v) <= 200;
}

static int valid_hostname(const char *v)
{
	return reply_safe(v, 0) && strlen(v) <= HOSTNAME_MAX;
}

static int valid_nonempty(const char *v)
{
	return *v != '\0';
}

static int valid_sensor(const char *v)
{
	return *v != '\0' && strlen(v) <= HOSTNAME_MAX;
}

static int valid_any(const char *v)
{
	(void)v;
	return 1;
}

static int one_of(const char *v, const char *const *list)
{
	for (; *list != NULL; list++) {
		if (strcmp(v, *list) == 0)
			return 1;
	}
	return 0;
}

static int valid_auth(const char *v)
{
	static const char *const words[] = { "fail", "accept", NULL };
	uint64_t n;

	if (strncmp(v, "accept-after=", 13) == 0)
		return parse_number(v + 13, T_COUNT, &n) == 0 && n >= 1 && n <= 1000000;
	return one_of(v, words);
}

static int valid_auth_without_tls(const char *v)
{
	static const char *const words[] = { "auto", "yes", "no", NULL };

	return one_of(v, words);
}

static int valid_tls(const char *v)
{
	static const char *const words[] = { "starttls", "implicit", "no", NULL };

	return one_of(v, words);
}

enum auth_policy config_auth_policy(const struct config *c, uint64_t *after)
{
	*after = 0;
	if (strcmp(c->auth, "accept") == 0)
		return AUTH_ACCEPT;
	if (strncmp(c->auth, "accept-after=", 13) == 0 && parse_number(c->auth + 13, T_COUNT, after) == 0)
		return AUTH_ACCEPT_AFTER;
	return AUTH_FAIL;
}

/* Applies one setting; a message naming `where` on failure. */
static int apply(struct config *c, const struct setting *s, const char *v, const char *where)
{
	void *field = (char *)c + s->offset;
	uint64_t n;

	switch (s->type) {
	case T_STRING:
		if (!s->valid(v)) {
			fprintf(stderr, "smtpot: %s: bad value for %s: '%s'\n", where, s->name, v);
			return -1;
		}
		free(*(char **)field);
		*(char **)field = dup_or_die(v);
		return 0;
	case T_BOOL:
		if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0 ||
		    strcasecmp(v, "on") == 0) {
			*(int *)field = 1;
		} else if (strcasecmp(v, "no") == 0 || strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0 ||
			   strcasecmp(v, "off") == 0) {
			*(int *)field = 0;
		} else {
			fprintf(stderr, "smtpot: %s: %s takes yes or no, not '%s'\n", where, s->name, v);
			return -1;
		}
		return 0;
	default:
		if (parse_number(v, s->type, &n) < 0 || n < s->min || n > s->max) {
			fprintf(stderr, "smtpot: %s: %s must be a number from %llu to %llu%s, not '%s'\n",
				where, s->name, (unsigned long long)s->min, (unsigned long long)s->max,
				s->type == T_SIZE ? " (K, M, G allowed)" : s->type == T_SECONDS ? " (s, m, h allowed)" : "",
				v);
			return -1;
		}
		*(uint64_t *)field = n;
		return 0;
	}
}

char **config_argv(const struct config *c, const char *argv0)
{
	char **v = calloc(NSETTINGS + 2, sizeof(*v));
	size_t n = 0;

	if (v == NULL || (v[n++] = strdup(argv0)) == NULL)
		goto fail;
	for (size_t i = 0; i < NSETTINGS; i++) {
		const struct setting *s = &settings[i];
		const void *field = (const char *)c + s->offset;
		int r;

		if (s->type == T_STRING && *(char *const *)field == NULL)
			continue;
		if (s->type == T_STRING)
			r = asprintf(&v[n], "--%s=%s", s->name, *(char *const *)field);
		else if (s->type == T_BOOL)
			r = asprintf(&v[n], "--%s=%s", s->name, *(const int *)field ? "yes" : "no");
		else
			r = asprintf(&v[n], "--%s=%llu", s->name, (unsigned long long)*(const uint64_t *)field);
		if (r < 0) {
			v[n] = NULL;
			goto fail;
		}
		n++;
	}
	return v;
fail:
	config_argv_free(v);
	return NULL;
}

void config_argv_free(char **v)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

static const struct setting *find(const char *name, size_t n)
{
	for (size_t i = 0; i < NSETTINGS; i++) {
		if (strlen(settings[i].name) == n && strncmp(settings[i].name, name, n) == 0)
			return &settings[i];
	}
	return NULL;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static enum config_result load_file(struct config *c, const char *path)
{
	char line[CONFIG_LINE_MAX], where[CONFIG_LINE_MAX + 32];
	FILE *f = fopen(path, "re");
	unsigned lineno = 0;
	enum config_result rc = CONFIG_OK;

	if (f == NULL) {
		fprintf(stderr, "smtpot: cannot read config file %s: %s\n", path, strerror(errno));
		return CONFIG_NO_FILE;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		const struct setting *s;
		char *key, *eq, *value;

		lineno++;
		snprintf(where, sizeof(where), "%s:%u", path, lineno);
		if (strchr(line, '\n') == NULL && !feof(f)) {
			fprintf(stderr, "smtpot: %s: line too long\n", where);
			rc = CONFIG_BAD_FILE;
			break;
		}
		key = trim(line);
		if (*key == '\0' || *key == '#')
			continue;
		eq = strchr(key, '=');
		if (eq == NULL) {
			fprintf(stderr, "smtpot: %s: expected 'key = value'\n", where);
			rc = CONFIG_BAD_FILE;
			break;
		}
		*eq = '\0';
		value = trim(eq + 1);
		key = trim(key);
		s = find(key, strlen(key));
		if (s == NULL) {
			fprintf(stderr, "smtpot: %s: unknown setting '%s'\n", where, key);
			rc = CONFIG_BAD_FILE;
			break;
		}
		if (apply(c, s, value, where) < 0) {
			rc = CONFIG_BAD_FILE;
			break;
		}
	}
	fclose(f);
	return rc;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: smtpot [options]\n"
		     "Serves one SMTP session on standard input and output and records it.\n\n");
	for (size_t i = 0; i < NSETTINGS; i++) {
		const struct setting *s = &settings[i];
		const char *arg = s->type == T_STRING ? "=TEXT" : s->type == T_BOOL ? "" :
				  s->type == T_SECONDS ? "=SECONDS" : "=N";

		fprintf(out, "  --%s%-*s %s\n", s->name, (int)(24 - strlen(s->name)), arg, s->help);
	}
	fprintf(out, "  --config=FILE              read settings ('key = value') from FILE first\n"
		     "  --help, --version\n"
		     "Without --log-file or --journal, events go to standard error.\n"
		     "See smtpot(8).\n");
}

enum config_result config_parse(struct config *c, int argc, char **argv)
{
	struct option opts[NSETTINGS + 4];
	const char *config_file = NULL;
	size_t i;
	int ch, idx;

	for (i = 0; i < NSETTINGS; i++) {
		opts[i].name = settings[i].name;
		opts[i].has_arg = settings[i].type == T_BOOL ? optional_argument : required_argument;
		opts[i].flag = NULL;
		opts[i].val = 256 + (int)i;
	}
	opts[i++] = (struct option){ "config", required_argument, NULL, 'c' };
	opts[i++] = (struct option){ "help", no_argument, NULL, 'h' };
	opts[i++] = (struct option){ "version", no_argument, NULL, 'V' };
	opts[i] = (struct option){ NULL, 0, NULL, 0 };

	/* First pass: --config, --help, --version and bad options (said here:
	 * C libraries word getopt's own message differently). */
	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:hV", opts, &idx)) != -1) {
		switch (ch) {
		case 'c':
			config_file = optarg;
			break;
		case 'h':
			usage(stdout);
			return CONFIG_EXIT_OK;
		case 'V':
			printf("smtpot %s\n", SMTPOT_VERSION);
			return CONFIG_EXIT_OK;
		case '?':
			fprintf(stderr, "smtpot: bad option or missing value: %s\nTry 'smtpot --help'.\n",
				argv[optind - 1]);
			return CONFIG_USAGE;
		default:
			break;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "smtpot: unexpected argument '%s'\nTry 'smtpot --help'.\n", argv[optind]);
		return CONFIG_USAGE;
	}
	if (config_file != NULL) {
		enum config_result r = load_file(c, config_file);

		if (r != CONFIG_OK)
			return r;
	}
	/* Second pass: the command line wins over the file. */
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:hV", opts, &idx)) != -1) {
		if (ch >= 256) {
			const struct setting *s = &settings[ch - 256];
			const char *v = optarg != NULL ? optarg : "yes";

			if (apply(c, s, v, "command line") < 0)
				return CONFIG_USAGE;
		}
	}
	return CONFIG_OK;
}
