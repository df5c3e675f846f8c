"""look_inside.py - what Python's own manager does, beside lesson 06's C one.

usage: python3 lessons/06_manager_dict/look_inside.py

Four things the lesson says about multiprocessing.Manager, shown running:
  1. a plain value fetched from a managed dict is a copy (the trap);
  2. a proxy stored in a managed dict stays a proxy (Python 3.6+);
  3. the server runs one thread per connection, and a Queue.get() that
     waits blocks one of them - not the server;
  4. the first bytes on the socket: a 4-byte big-endian length, then an
     authkey challenge ("#CHALLENGE#...").
"""
import multiprocessing
import multiprocessing.managers
import socket
import struct
import sys
import threading
import time


def server_threads():
    """Runs in the manager's server process: its threads' names."""
    return sorted(t.name for t in threading.enumerate())


class Inspectable(multiprocessing.managers.SyncManager):
    pass


Inspectable.register('server_threads', callable=server_threads)


def blocked_getter(q):
    try:
        q.get(timeout=5)      # waits in a server thread, not here
    except Exception:
        pass


def main():
    print(f"Python {sys.version.split()[0]}")
    with Inspectable() as m:
        d = m.dict()

        # 1. The trap: d['l'] returns a copy of the list, append goes to it.
        d['l'] = [1]
        d['l'].append(2)
        print("1. plain list in a managed dict, after d['l'].append(2):", d['l'])

        # 2. A proxy in a managed dict: the append reaches the server.
        d['p'] = m.list([1])
        d['p'].append(2)
        print("2. proxy in a managed dict, after d['p'].append(2):    ", d['p'][:])

        # 3. One thread per connection; a waiting get holds one of them.
        # (_getvalue(): a copy of what the registered callable returned.)
        print("3. server threads now:", m.server_threads()._getvalue())
        q = m.Queue()
        waiters = [multiprocessing.Process(target=blocked_getter, args=(q,))
                   for _ in range(3)]
        for w in waiters:
            w.start()
        time.sleep(0.5)       # only for the look: let the three gets arrive
        names = m.server_threads()._getvalue()
        print(f"   with 3 processes waiting in q.get(): {len(names)} threads:")
        print("  ", names)
        for _ in waiters:
            q.put(None)
        for w in waiters:
            w.join()

        # 4. The wire: connect by hand and read the server's first frame.
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(m.address)
        header = s.recv(4, socket.MSG_WAITALL)
        (n,) = struct.unpack('!i', header)
        first = s.recv(n, socket.MSG_WAITALL)
        print(f"4. socket {m.address}")
        print(f"   first frame: length {' '.join('%02x' % b for b in header)} = {n} bytes,",
              f"starting {first[:20]!r}...")
        s.close()


if __name__ == '__main__':
    main()
