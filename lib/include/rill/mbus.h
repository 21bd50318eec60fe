/*
 * rill/mbus.h - a client of the mbus registry (docs/mbus.md), for tasks
 * of the asynchronous runtime (rill/rt.h): every call waits with
 * rl_await_ipc, so other tasks of the loop run meanwhile.
 *
 *	rl_handle_t mbus = rl_startup_handle_or0("mbus");
 *	struct mbus_match m[2];
 *	struct mbus_prop props[MBUS_PROPS_MAX];
 *	uint32_t n;
 *	uint64_t id;
 *
 *	rl_mbus_match_set(&m[0], "class", MBUS_MATCH_OP_EQUAL, "serial");
 *	rl_mbus_match_set(&m[1], "name", MBUS_MATCH_OP_EQUAL, "com1");
 *	if (rl_mbus_find_first(mbus, m, 2, &id, props, &n) == 0)
 *		io = rl_mbus_prop(props, n, "io-base");
 *
 * Two kinds of lane reach mbus:
 *  - the shared one (`mbus`, the startup handle "mbus"): each call on it
 *    is a conversation of its own, OFFERed, used once and gone when the
 *    call returns (find, get, and what opens a conversation);
 *  - a conversation (`conv`), a lane of a stream of the caller's own,
 *    from rl_mbus_open or rl_mbus_publish: what is published on it lives
 *    until it is closed (or the process ends), and only it may remove
 *    those objects.
 *
 * Every reply is read with the generated decoder of the message expected;
 * anything else is -RILL_EPROTO (a `refused` reply: its error), never a
 * crash. Errors are -RILL_E*: those of the protocol (docs/protocols.md),
 * -RILL_EPIPE when mbus or the conversation is gone, and the IPC errors of
 * the submission.
 */
#ifndef RILL_MBUS_H
#define RILL_MBUS_H

#include <proto/mbus.h>
#include <rill/rl.h>

/* Bounds bin/mbus keeps so that no client can take its memory: past them
 * a publish fails with ENOMEM, a watch with ENOSPC, and a watcher that
 * lets more than RL_MBUS_EVENTS_MAX events pile up loses its watch (its
 * event stream ends). mbus's own object and the devices count as objects. */
#define RL_MBUS_OBJECTS_MAX	4096
#define RL_MBUS_WATCHES_MAX	256
#define RL_MBUS_EVENTS_MAX	1024

/* Fill a property or a query term: 0, or -RILL_ERANGE when a string is
 * too long (key: MBUS_KEY_MAX bytes, value: MBUS_VALUE_MAX). */
int rl_mbus_prop_set(struct mbus_prop *p, const char *key, const char *value);
int rl_mbus_match_set(struct mbus_match *m, const char *key, enum mbus_match_op op,
		      const char *value);
/* The value of key among props[0..n), or NULL. */
const char *rl_mbus_prop(const struct mbus_prop *props, uint32_t n, const char *key);

/* A new conversation: *conv, a lane the caller closes when done. */
int rl_mbus_open(rl_handle_t mbus, rl_handle_t *conv);

/* Publish an object reached through object_lane (pushed, the caller keeps
 * its handle; it needs SUBMIT and TRANSFER) on a new conversation: *conv
 * (the caller keeps it open as long as the object should live) and the
 * object's id. On an error no conversation is left open. */
int rl_mbus_publish(rl_handle_t mbus, const struct mbus_prop *props, uint32_t n,
		    rl_handle_t object_lane, rl_handle_t *conv, uint64_t *id);
/* The same on a conversation the caller has (several objects on one). */
int rl_mbus_publish_on(rl_handle_t conv, const struct mbus_prop *props, uint32_t n,
		       rl_handle_t object_lane, uint64_t *id);
/* Remove an object published on conv (-RILL_EPERM: on another). */
int rl_mbus_remove(rl_handle_t conv, uint64_t id);

/* One page of a find: the ids above after that every term matches,
 * oldest first, at most MBUS_IDS_MAX; *more when there are others above
 * the last (ask again with after = ids[*count - 1]). */
int rl_mbus_find_page(rl_handle_t mbus, const struct mbus_match *m, uint32_t n, uint64_t after,
		      uint64_t ids[MBUS_IDS_MAX], uint32_t *count, bool *more);
/* Every page: the first max matching ids in ids[], their number in
 * *count; -RILL_E2BIG (with ids[] full) when more than max match. */
int rl_mbus_find(rl_handle_t mbus, const struct mbus_match *m, uint32_t n, uint64_t *ids,
		 uint32_t max, uint32_t *count);
/* An object's properties (props has room for MBUS_PROPS_MAX), and with
 * want_lane a copy of its lane in *lane (0 when it has none: devices);
 * lane may be NULL without want_lane. -RILL_ENOENT: no such object. */
int rl_mbus_get(rl_handle_t mbus, uint64_t id, struct mbus_prop *props, uint32_t *nprops,
		bool want_lane, rl_handle_t *lane);
/* The oldest object that every term matches, and its properties:
 * -RILL_ENOENT when none does. */
int rl_mbus_find_first(rl_handle_t mbus, const struct mbus_match *m, uint32_t n, uint64_t *id,
		       struct mbus_prop *props, uint32_t *nprops);

/* A watch: a conversation of its own and the stream its events come on. */
struct rl_mbus_watch {
	rl_handle_t conv;
	rl_handle_t events;
	uint64_t id;
};

struct rl_mbus_event {
	uint16_t kind;			/* MBUS_MSG_APPEARED or MBUS_MSG_DISAPPEARED */
	uint64_t object;
	uint32_t nprops;		/* appeared: the object's properties */
	struct mbus_prop props[MBUS_PROPS_MAX];
};

/* Watch for objects every term matches: first an `appeared` for each one
 * there now (oldest first), then one for each published later and a
 * `disappeared` for each that goes. */
int rl_mbus_watch_open(rl_handle_t mbus, const struct mbus_match *m, uint32_t n,
		       struct rl_mbus_watch *w);
/* The next event; deadline: monotonic ns, 0 for none (-RILL_ETIMEDOUT,
 * and the event stays for the next call). -RILL_EPIPE: the watch ended
 * (mbus went, or it dropped a watcher that fell RL_MBUS_EVENTS_MAX behind). */
int rl_mbus_watch_next(struct rl_mbus_watch *w, struct rl_mbus_event *ev, uint64_t deadline);
/* Unwatch (no event follows) and close both lanes: 0, or the unwatch's
 * error (the lanes are closed anyway). */
int rl_mbus_watch_close(struct rl_mbus_watch *w);

#endif
