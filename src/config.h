/*
 * config.h - the settings of one run: options and the config file share one
 * table, so a setting has one name, one type and one range everywhere.
 */
#ifndef SMTPOT_CONFIG_H
#define SMTPOT_CONFIG_H

#include <stdint.h>

struct config {
	char *hostname;
	char *banner;
	char *sensor;
	char *spool_dir; /* "" disables storing */
	char *log_file;  /* NULL: no file sink */
	int journal;
	uint64_t max_line_length;
	uint64_t max_message_size;
	uint64_t max_recipients;
	uint64_t max_commands;
	uint64_t max_errors;
	uint64_t idle_timeout;    /* seconds */
	uint64_t session_timeout; /* seconds */
	char *auth;               /* "fail", "accept" or "accept-after=N" */
	char *auth_without_tls;   /* "auto", "yes" or "no" */
	uint64_t max_auth_tries;
	char *tls;                /* "starttls", "implicit" or "no" */
	char *tls_cert, *tls_key; /* PEM files; TLS is offered when both are readable */
	char *tls_module;         /* the TLS module, executed when TLS starts */
};

/* AUTH policy, from cfg->auth. */
enum auth_policy { AUTH_FAIL, AUTH_ACCEPT, AUTH_ACCEPT_AFTER };
enum auth_policy config_auth_policy(const struct config *c, uint64_t *after);

/* Outcome of config_parse beyond success. */
enum config_result {
	CONFIG_OK = 0,
	CONFIG_EXIT_OK,    /* --help or --version was printed */
	CONFIG_USAGE,      /* bad option (EX_USAGE) */
	CONFIG_BAD_FILE,   /* bad config file line (EX_CONFIG) */
	CONFIG_NO_FILE,    /* config file missing or unreadable (EX_NOINPUT) */
};

void config_defaults(struct config *c);
/* Parses argv (and --config=FILE); messages go to stderr. */
enum config_result config_parse(struct config *c, int argc, char **argv);
void config_free(struct config *c);
/*
 * The settings in force as a command line (argv0 first, no --config): what
 * smtpot hands its TLS module, so a config file edited in the meantime
 * cannot change a running session. NULL-terminated; NULL without memory.
 */
char **config_argv(const struct config *c, const char *argv0);
void config_argv_free(char **v);

#endif
