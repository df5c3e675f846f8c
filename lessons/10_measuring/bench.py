"""bench.py - the Python side of lesson 10: the same operations with multiprocessing.

usage: python3 bench.py          prints "name<TAB>operations per second" lines

Measured the way bench.c measures: the number of operations per run is found
by doubling until a run takes BENCH_MS (200 ms by default), then BENCH_RUNS
runs (5) are timed and the median is printed.  Only the loop is timed: the
clock starts once every child has said it is ready (connected, waiting).
The names match bench.c's, so `make bench` can print the two side by side.
"""
import multiprocessing as mp
import os
import statistics
import time


def echo(conn, ops):
    for _ in range(ops + 1):  # + 1: the untimed first round trip
        conn.send_bytes(conn.recv_bytes())


def socket_pingpong(ops):
    """16 bytes there and back over a Pipe() (a Unix socket pair on Linux)."""
    here, there = mp.Pipe()
    child = mp.Process(target=echo, args=(there, ops))
    child.start()
    msg = b"ping, pong, ping"
    here.send_bytes(msg)  # one round trip first: then the child is running
    here.recv_bytes()
    start = time.perf_counter()
    for _ in range(ops):
        here.send_bytes(msg)
        here.recv_bytes()
    took = time.perf_counter() - start
    child.join()
    return took


def dict_ops(ops, setting):
    with mp.Manager() as manager:
        d = manager.dict()
        d["key"] = 0
        start = time.perf_counter()
        if setting:
            for k in range(ops):
                d["key"] = k
        else:
            for _ in range(ops):
                d["key"]
        return time.perf_counter() - start


def manager_dict_set(ops):
    return dict_ops(ops, True)


def manager_dict_get(ops):
    return dict_ops(ops, False)


def produce(q, ready, go, ops):
    q.qsize()  # a proxy connects on its first call: do it before the clock
    ready.release()
    go.wait()
    for k in range(ops):
        q.put(k)


def manager_queue_putget(ops):
    with mp.Manager() as manager:
        q = manager.Queue()
        ready = mp.Semaphore(0)
        go = mp.Event()
        child = mp.Process(target=produce, args=(q, ready, go, ops))
        child.start()
        q.qsize()  # connect the consumer's proxy too
        ready.acquire()
        start = time.perf_counter()
        go.set()
        for _ in range(ops):
            q.get()
        took = time.perf_counter() - start
        child.join()
        return took


def add(value, ready, go, each, finished, number):
    ready.release()
    go.wait()
    for _ in range(each):
        with value.get_lock():
            value.value += 1
    # perf_counter's clock is one clock for all processes on Linux, and
    # cannot be set: the parent compares it with its start, and exiting
    # stays out.
    finished[number] = time.perf_counter()


def value_mutex_incr(ops):
    """Value('i') with its lock: two processes each add one ops/2 times."""
    value = mp.Value("i", 0)
    ready = mp.Semaphore(0)
    go = mp.Event()
    finished = mp.Array("d", 2, lock=False)
    each = ops // 2
    adders = [mp.Process(target=add, args=(value, ready, go, each, finished, k))
              for k in range(2)]
    for p in adders:
        p.start()
    for _ in adders:
        ready.acquire()  # both adders are running, at the go
    start = time.perf_counter()
    go.set()
    for p in adders:
        p.join()
    took = max(finished) - start
    assert value.value == 2 * each, "lost updates"
    return took


def measure(run):
    target = int(os.environ.get("BENCH_MS", "200")) / 1000
    runs = int(os.environ.get("BENCH_RUNS", "5"))
    ops = 64
    while run(ops) < target and ops < 1 << 24:
        ops *= 2
    return statistics.median(ops / run(ops) for _ in range(runs))


if __name__ == "__main__":
    for bench in (socket_pingpong, manager_dict_set, manager_dict_get,
                  manager_queue_putget, value_mutex_incr):
        print(f"{bench.__name__}\t{measure(bench):.0f}", flush=True)
