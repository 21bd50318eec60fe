/*
 * config.c - init's configuration file (config.h, docs/init.md).
 *
 *	# a comment
 *	stream mbus			a stream: "mbus" and "mbus.server"
 *	service console			a service, its lines indented below
 *		run bin/console takeover	its program and arguments
 *		give chardev-server=console.server irq-authority
 *		restart always		always | on-failure | never (default)
 *
 * Words are separated by blanks; names are 1..23 bytes of [a-z0-9._-].
 */
#include "config.h"

#ifdef RILL_HOST_TEST
#include <string.h>
#else
#include <rill/string.h>
#endif

static bool name_ok(const char *s, size_t n)
{
	if (n == 0 || n > INIT_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' ||
		      ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

struct words {
	const char *w[INIT_GIVES_MAX + 2];
	size_t n[INIT_GIVES_MAX + 2];
	unsigned count;
	bool too_many;
};

static void split(const char *p, const char *end, struct words *ws)
{
	ws->count = 0;
	ws->too_many = false;
	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
			p++;
		if (p == end || *p == '#')
			return;
		if (ws->count == sizeof(ws->w) / sizeof(ws->w[0])) {
			ws->too_many = true;
			return;
		}
		ws->w[ws->count] = p;
		while (p < end && *p != ' ' && *p != '\t' && *p != '\r' && *p != '#')
			p++;
		ws->n[ws->count] = (size_t)(p - ws->w[ws->count]);
		ws->count++;
	}
}

static bool is(const struct words *ws, unsigned i, const char *s)
{
	return ws->n[i] == strlen(s) && !memcmp(ws->w[i], s, ws->n[i]);
}

static void copy(char *dst, const char *src, size_t n)
{
	memcpy(dst, src, n);
	dst[n] = 0;
}

/* One line of a service; NULL or why it is refused. */
static const char *service_line(struct conf_service *s, const struct words *ws)
{
	if (is(ws, 0, "run")) {
		if (s->argc)
			return "a second run line";
		if (ws->count < 2 || ws->count - 1 > INIT_ARGS_MAX)
			return "run takes a program and at most 7 arguments";
		for (unsigned i = 1; i < ws->count; i++) {
			if (ws->n[i] > INIT_ARG_MAX)
				return "an argument longer than 63 bytes";
			copy(s->args[i - 1], ws->w[i], ws->n[i]);
			s->argv[i - 1] = s->args[i - 1];
		}
		s->argc = ws->count - 1;
		return NULL;
	}
	if (is(ws, 0, "give")) {
		if (ws->count < 2)
			return "give names at least one handle";
		for (unsigned i = 1; i < ws->count; i++) {
			const char *eq = memchr(ws->w[i], '=', ws->n[i]);
			size_t nn = eq ? (size_t)(eq - ws->w[i]) : ws->n[i];
			const char *src = eq ? eq + 1 : ws->w[i];
			size_t sn = eq ? ws->n[i] - nn - 1 : ws->n[i];
			struct conf_give *g;

			if (!name_ok(ws->w[i], nn) ||
			    !(name_ok(src, sn) || (sn > 7 && !memcmp(src + sn - 7, ".server", 7) &&
						   name_ok(src, sn - 7))))
				return "a handle name is not 1..23 bytes of [a-z0-9._-]";
			if (s->ngives == INIT_GIVES_MAX)
				return "more than 16 handles";
			for (unsigned k = 0; k < s->ngives; k++)
				if (strlen(s->gives[k].name) == nn && !memcmp(s->gives[k].name, ws->w[i], nn))
					return "a handle name given twice";
			g = &s->gives[s->ngives++];
			copy(g->name, ws->w[i], nn);
			copy(g->source, src, sn);
		}
		return NULL;
	}
	if (is(ws, 0, "restart")) {
		if (ws->count != 2)
			return "restart takes one word";
		if (is(ws, 1, "always"))
			s->restart = RESTART_ALWAYS;
		else if (is(ws, 1, "on-failure"))
			s->restart = RESTART_ON_FAILURE;
		else if (is(ws, 1, "never"))
			s->restart = RESTART_NEVER;
		else
			return "restart is always, on-failure or never";
		return NULL;
	}
	return "unknown service line (run, give, restart)";
}

static bool name_taken(const struct conf *c, const char *w, size_t n, bool service)
{
	if (service) {
		for (unsigned i = 0; i < c->nservices; i++)
			if (strlen(c->services[i].name) == n && !memcmp(c->services[i].name, w, n))
				return true;
	} else {
		for (unsigned i = 0; i < c->nstreams; i++)
			if (strlen(c->streams[i].name) == n && !memcmp(c->streams[i].name, w, n))
				return true;
		if (n == 4 && !memcmp(w, "init", 4))
			return true;		/* init's own control lane */
	}
	return false;
}

/* A service without its program is dropped when its stanza ends. */
static void close_service(struct conf *c, struct conf_service **cur, const char *file,
			  unsigned line, init_complain_fn complain)
{
	if (*cur && !(*cur)->argc) {
		if (complain)
			complain(file, line, "a service without a run line is dropped");
		c->errors++;
		c->nservices--;
	}
	*cur = NULL;
}

int init_config_parse(const char *text, size_t len, struct conf *c, const char *file,
		      init_complain_fn complain)
{
	const char *p = text, *end = text + len;
	struct conf_service *cur = NULL;
	unsigned line = 0, cur_line = 0;
	bool skipping = false;		/* the lines of a service header refused */

	memset(c, 0, sizeof(*c));
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		bool indented = *p == ' ' || *p == '\t';
		const char *why = NULL;
		struct words ws;

		if (!eol)
			eol = end;
		line++;
		split(p, eol, &ws);
		p = eol < end ? eol + 1 : end;
		if (ws.too_many) {
			why = "too many words";
		} else if (!ws.count) {
			continue;
		} else if (memchr(ws.w[0], 0, (size_t)(eol - ws.w[0]))) {
			why = "a NUL byte";
		} else if (indented && skipping) {
			continue;		/* its header was reported */
		} else if (indented) {
			why = cur ? service_line(cur, &ws) : "an indented line outside a service";
		} else if (is(&ws, 0, "stream") || is(&ws, 0, "service")) {
			bool service = is(&ws, 0, "service");

			close_service(c, &cur, file, cur_line, complain);
			skipping = service;
			if (ws.count != 2 || !name_ok(ws.w[1], ws.n[1]))
				why = "a name of 1..23 bytes of [a-z0-9._-] must follow";
			else if (name_taken(c, ws.w[1], ws.n[1], service))
				why = "a name used twice";
			else if (service && c->nservices == INIT_SERVICES_MAX)
				why = "more than 16 services";
			else if (!service && c->nstreams == INIT_STREAMS_MAX)
				why = "more than 16 streams";
			else if (service) {
				skipping = false;
				cur = &c->services[c->nservices++];
				cur_line = line;
				copy(cur->name, ws.w[1], ws.n[1]);
			} else {
				copy(c->streams[c->nstreams++].name, ws.w[1], ws.n[1]);
			}
		} else {
			close_service(c, &cur, file, cur_line, complain);
			skipping = false;
			why = "unknown line (stream, service, or an indented service line)";
		}
		if (why) {
			if (complain)
				complain(file, line, why);
			c->errors++;
		}
	}
	close_service(c, &cur, file, cur_line, complain);
	return (int)c->errors;
}
