/*
 * kzalloc() and kfree() for the few objects of the mm model. There is no
 * slab allocator: each object takes a zeroed frame of its own.
 */
#ifndef _SLAB_H
#define _SLAB_H

#include <types.h>

/* A zeroed object of at most PAGE_SIZE bytes, or NULL when out of memory. */
void *kzalloc(size_t size);
void kfree(const void *objp);

#endif /* _SLAB_H */
