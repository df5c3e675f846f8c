/* named_shm.h - what lesson 08's programs share: checking a shared memory
 * object's name, mapping an object someone else made, and seeing which
 * memory files a program got without asking.
 *
 * The calls the lesson teaches - shm_open(3), ftruncate(2), shm_unlink(3),
 * memfd_create(2), fcntl(2) F_ADD_SEALS, sendmsg(2)/recvmsg(2) with
 * SCM_RIGHTS - stay written out in the lesson's programs.  This holds only
 * what several of them would otherwise each write again.
 *
 * Nothing here exits: a failure is returned, and the program decides what
 * to do (the creator, for one, removes the object it made before it stops).
 *
 * The Makefile compiles memfd_send.c and memfd_recv.c with -Wcast-align
 * (=strict for gcc) as an error: `*(int *)CMSG_DATA(c)` is the classic
 * mistake of descriptor passing, since cmsg(3) promises no alignment for
 * the data; copy it in and out with memcpy(3).
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
 * is 0 bytes long.  errno then says which (mmap's own errno, for one:
 * EPERM for a writable mapping of a memfd sealed with F_SEAL_FUTURE_WRITE;
 * EINVAL for an empty object).  (A new object is 0 bytes until
 * ftruncate(2) gives it a size, and touching a mapping beyond the end of
 * its object is not an error return but SIGBUS: this is checked first so
 * that it never comes to that.)  The caller unmaps with munmap(address,
 * *size); fd may be closed at once.  Never exits. */
void *nshm_map(int fd, int prot, size_t *size);

/* Why the last nshm_map() failed, as one line without a newline. */
const char *nshm_error(void);

/* The seals in `seals` (what fcntl(fd, F_GET_SEALS) returned) as their
 * names, separated by spaces ("F_SEAL_SHRINK F_SEAL_GROW"), or "none",
 * into out[len].  Never fails. */
void nshm_seal_names(int seals, char *out, size_t len);

/* The lowest descriptor of this process that is open on a memfd (its
 * /proc/self/fd link reads "/memfd:..."), or -1 if there is none or
 * /proc cannot be read.  With a memfd found, what it opens is left in
 * what[len] ("/memfd:lesson08 (deleted)").  A program just started by
 * exec that has one got it without asking: a descriptor that was not
 * close-on-exec in the program that exec'd it.  Never exits. */
int nshm_inherited_memfd(char *what, size_t len);

#endif
