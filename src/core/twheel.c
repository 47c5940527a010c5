/*
 * twheel.c - a socket's timer wheel (see twheel.h).
 */
#include "core/twheel.h"

#include "core/rpc.h"

static UH_LOCK_CLASS(twheel_class, "twheel", UH_RANK_LEAF, UH_LC_LEAF);

void uh_twheel_init(struct uh_twheel *w)
{
	uh_lock_init(&w->lock, &twheel_class);
	for (unsigned i = 0; i < UH_TW_SLOTS; i++)
		uh_list_init(&w->slot[i]);
	w->armed = 0;
}

/* Wheel lock held: links @rpc into the slot of rpc->timer_due. */
static void insert(struct uh_twheel *w, struct uh_rpc *rpc)
{
	unsigned i = (unsigned)(rpc->timer_due & (UH_TW_SLOTS - 1));

	uh_list_add_tail(&rpc->timer_link, &w->slot[i]);
	rpc->timer_slot = (int32_t)i;
	w->armed++;
}

/* Wheel lock held: unlinks @rpc from its slot. */
static void unlink_slot(struct uh_twheel *w, struct uh_rpc *rpc)
{
	uh_list_del(&rpc->timer_link);
	rpc->timer_slot = UH_TW_NONE;
	w->armed--;
}

void uh_twheel_arm(struct uh_twheel *w, struct uh_rpc *rpc, uint64_t due)
{
	uh_lock_assert_held(&rpc->bucket->lock);
	if (rpc->timer_due && rpc->timer_due <= due)
		return;              /* due as early already */
	rpc->timer_due = due;
	uh_lock(&w->lock);
	if (rpc->timer_slot >= 0)
		unlink_slot(w, rpc);
	if (rpc->timer_slot == UH_TW_NONE)
		insert(w, rpc);
	/* UH_TW_WALK: the walker puts it back at timer_due. */
	uh_unlock(&w->lock);
}

void uh_twheel_disarm(struct uh_twheel *w, struct uh_rpc *rpc)
{
	uh_lock_assert_held(&rpc->bucket->lock);
	rpc->timer_due = 0;
	uh_lock(&w->lock);
	if (rpc->timer_slot >= 0)
		unlink_slot(w, rpc);
	uh_unlock(&w->lock);
}

unsigned uh_twheel_take(struct uh_twheel *w, uint64_t now,
			struct uh_list *out)
{
	struct uh_list *head = &w->slot[now & (UH_TW_SLOTS - 1)];
	unsigned n = 0;

	uh_lock(&w->lock);
	while (!uh_list_empty(head)) {
		struct uh_rpc *rpc = uh_list_entry(head->next, struct uh_rpc,
						   timer_link);

		unlink_slot(w, rpc);
		uh_list_add_tail(&rpc->timer_link, out);
		rpc->timer_slot = UH_TW_WALK;
		n++;
	}
	uh_unlock(&w->lock);
	return n;
}

void uh_twheel_put_back(struct uh_twheel *w, struct uh_rpc *rpc)
{
	uh_lock_assert_held(&rpc->bucket->lock);
	uh_lock(&w->lock);
	uh_list_del(&rpc->timer_link);    /* off the walker's list */
	rpc->timer_slot = UH_TW_NONE;
	if (rpc->timer_due && rpc->state != UH_RPC_DEAD)
		insert(w, rpc);
	else
		rpc->timer_due = 0;
	uh_unlock(&w->lock);
}

uint64_t uh_twheel_armed(struct uh_twheel *w)
{
	uint64_t n;

	uh_lock(&w->lock);
	n = w->armed;
	uh_unlock(&w->lock);
	return n;
}
