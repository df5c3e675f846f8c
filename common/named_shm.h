/* named_shm.h - what lesson 08's programs share: checking a shared memory
 * object's name, and mapping an object someone else made.
 *
 * The calls the lesson teaches - shm_open(3), ftruncate(2), shm_unlink(3),
 * memfd_create(2), sendmsg(2) with SCM_RIGHTS - stay written out in the
 * lesson's programs.  This holds only what four of them would otherwise
 * each write again: "is this a good name?" and "map all of this object".
 *
 * Nothing here exits: a failure is returned, and the program decides what
 * to do (the creator, for one, removes the object it made before it stops).
 */
#ifndef NAMED_SHM_H
#define NAMED_SHM_H

#include <stdbool.h>
#include <stddef.h>

/* Is `name` a portable POSIX shared memory name: a '/', then 1 or more
 * characters none of which is '/', NAME_MAX (255) characters in all?
 * (Linux keeps the object as /dev/shm/<name without its slash>.)
 * Never fails. */
bool nshm_name_ok(const char *name);

/* Map the whole object open on `fd` with MAP_SHARED and protection `prot`
 * (PROT_READ, or PROT_READ | PROT_WRITE), after asking fstat(2) for its
 * size.  Returns the address and sets *size; or returns NULL and leaves
 * the reason in nshm_error() when fstat or mmap fails, or when the object
 * is 0 bytes long.  (A new object is 0 bytes until ftruncate(2) gives it a
 * size, and touching a mapping beyond the end of its object is not an error
 * return but SIGBUS: this is checked first so that it never comes to that.)
 * The caller unmaps with munmap(address, *size); fd may be closed at once.
 * Never exits. */
void *nshm_map(int fd, int prot, size_t *size);

/* Why the last nshm_map() failed, as one line without a newline. */
const char *nshm_error(void);

#endif
