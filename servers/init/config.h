/*
 * config.h - init's configuration file (docs/init.md): the streams to
 * make and the services to start, with the handles each is given and
 * whether it is started again when it ends. The parser is plain C on a
 * buffer, so tests/host runs it too.
 */
#ifndef INIT_CONFIG_H
#define INIT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INIT_SERVICES_MAX	16
#define INIT_STREAMS_MAX	16
#define INIT_ARGS_MAX		8	/* the program's path and its arguments */
#define INIT_ARG_MAX		63	/* bytes of one */
#define INIT_GIVES_MAX		16
#define INIT_NAME_MAX		23	/* a service, stream or handle name */

enum init_restart { RESTART_NEVER, RESTART_ON_FAILURE, RESTART_ALWAYS };

struct conf_give {
	char name[INIT_NAME_MAX + 1];		/* what the service finds it by */
	char source[INIT_NAME_MAX + 8 + 1];	/* what init gives: "<stream>",
						   "<stream>.server", "init" or
						   one of its own handles */
};

struct conf_service {
	char name[INIT_NAME_MAX + 1];
	char args[INIT_ARGS_MAX][INIT_ARG_MAX + 1];
	const char *argv[INIT_ARGS_MAX];	/* into args */
	unsigned argc;
	struct conf_give gives[INIT_GIVES_MAX];
	unsigned ngives;
	enum init_restart restart;
	/* init's own record of it */
	uint32_t proc;				/* its process handle while it runs */
	uint8_t state;				/* enum init_state (proto/init.h) */
	uint32_t starts, exits;
	int64_t last_status;
};

struct conf_stream {
	char name[INIT_NAME_MAX + 1];
	uint32_t client, server;		/* its two ends, once made */
};

struct conf {
	struct conf_service services[INIT_SERVICES_MAX];
	unsigned nservices;
	struct conf_stream streams[INIT_STREAMS_MAX];
	unsigned nstreams;
	uint32_t control_client;		/* "init": the control lane's client end */
	unsigned errors;			/* lines refused */
};

/* Called for each line refused: where, and why. */
typedef void (*init_complain_fn)(const char *file, unsigned line, const char *why);

/* Parse text[0..len) into *c (zeroed first). A line in error is reported
 * through complain and ignored, with the service it belongs to when it is
 * one of a service's lines (a service missing its program is dropped):
 * what is stated right still runs. Returns 0, or the count of lines
 * refused. */
int init_config_parse(const char *text, size_t len, struct conf *c, const char *file,
		      init_complain_fn complain);

#endif
