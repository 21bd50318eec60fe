/*
 * mbus.h - the registry's state, shared by the files of bin/mbus
 * (docs/mbus.md). Everything runs on one thread, in tasks of one loop:
 * the code between two waits runs alone, so none of this is locked.
 */
#ifndef MBUS_SERVER_H
#define MBUS_SERVER_H

#include <proto/mbus.h>
#include <rill/mbus.h>
#include <rill/rl.h>
#include <rill/rt.h>

struct conv;

struct object {
	struct object *next, *prev;	/* every object, ascending id */
	uint64_t id;
	struct conv *owner;		/* the publisher's conversation; NULL: mbus's own */
	rl_handle_t lane;		/* 0: none (devices, mbus itself) */
	uint64_t lane_koid;		/* the lane's kernel object id (EEXIST) */
	uint32_t nprops;
	struct mbus_prop props[];
};

struct event {
	struct event *next;
	uint16_t msg;			/* MBUS_MSG_APPEARED or _DISAPPEARED */
	uint64_t object;
	uint32_t nprops;		/* appeared: a snapshot of its properties */
	struct mbus_prop props[];
};

struct watch {
	struct watch *next, *prev;	/* every watch */
	uint64_t id;
	struct conv *owner;
	rl_handle_t events;		/* the stream events go on; 0 until accepted */
	struct event *head, *tail;	/* waiting to be sent */
	uint32_t queued;
	bool sending;			/* a sender task runs for it */
	bool dead;			/* unwatched: the sender frees it */
	uint32_t nmatches;
	struct mbus_match matches[MBUS_MATCHES_MAX];
};

struct conv {
	rl_handle_t lane;
};

/* What mbus counts; its own object (class=mbus) shows them. */
struct mbus_stats {
	uint64_t objects, watches, conversations, requests, refused;
};
extern struct mbus_stats mbus_stats;

/* devices.c: publish the kernel's device list (ioport authority). */
int mbus_publish_devices(rl_handle_t ioport_auth);

/* mbus.c: a permanent object (no lane, no publisher); NULL when out of
 * memory. props must be valid (keys unique and not empty). */
struct object *mbus_object_add(const struct mbus_prop *props, uint32_t n, struct conv *owner,
			       rl_handle_t lane, uint64_t koid);

#endif
