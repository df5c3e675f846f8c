"""py_interop.py - the C side of lesson 11 against Python's own multiprocessing.connection.

usage: PYTHON tests/tools/py_interop.py listener AUTH_CLIENT
       PYTHON tests/tools/py_interop.py client TCP_QUEUE

listener: a Python Listener(('127.0.0.1', 0), authkey=KEY) echoes each
    message in upper case; the C client AUTH_CLIENT connects to it twice,
    with the right key and with a wrong one.
client: the C manager (TCP_QUEUE serve 127.0.0.1:0, AUTHKEY=KEY) is
    started; Python's Client(address, authkey=KEY) authenticates and sends
    manager requests with send_bytes() - the manager's frames are
    send_bytes() frames - and reads the replies with recv_bytes(); then a
    Client with a wrong key.

One line per event, the same for every Python version (the test compares
them with tests/expected/11_interop_*.out); the version goes to stderr.
Every wait is bounded (2 s), so a broken C side fails, never hangs.
"""
import os
import queue
import struct
import subprocess
import sys
import threading
from multiprocessing.connection import Client, Listener, AuthenticationError

KEY = b'lesson-11 secret'
WRONG = b'not the secret'
TIMEOUT = 2


def what(e):
    return '%s: %s' % (type(e).__name__, e)


def run_c_client(program, address, key, *messages):
    env = dict(os.environ, AUTHKEY=key.decode())
    try:
        p = subprocess.run([program, address] + list(messages), env=env,
                           capture_output=True, timeout=TIMEOUT, text=True)
    except subprocess.TimeoutExpired:
        return 'did not end within %d s' % TIMEOUT
    out = (p.stdout.strip() + ' ' + p.stderr.strip()).strip()
    return 'exit %d: %s' % (p.returncode, out)


def listener_side(program):
    results = queue.Queue()
    with Listener(('127.0.0.1', 0), authkey=KEY) as listener:
        host, port = listener.address
        address = '%s:%d' % (host, port)

        def serve():
            while True:
                try:
                    c = listener.accept()
                except (AuthenticationError, OSError, EOFError) as e:
                    results.put('Listener.accept() raised ' + what(e))
                    continue
                try:
                    m = c.recv_bytes()
                    c.send_bytes(m.upper())
                    results.put('Listener.accept() ok; recv_bytes() gave %r' % m)
                except (OSError, EOFError) as e:
                    results.put('after accept(): ' + what(e))
                finally:
                    c.close()
        threading.Thread(target=serve, daemon=True).start()
        for name, key in (('right key', KEY), ('wrong key', WRONG)):
            print('C auth_client, %s: %s' % (name, run_c_client(program, address, key, 'hello')))
            try:
                print('  Python: ' + results.get(timeout=TIMEOUT))
            except queue.Empty:
                print('  Python: no connection was accepted within %d s' % TIMEOUT)


# The manager's requests (common/mgr_wire.h): u8 op, u32 object id, arguments.
PING, CREATE, ITEMS, DICT_SET = 1, 3, 4, 12
DICT = 4


def s(text):
    b = text.encode()
    return struct.pack('!B', len(b)) + b


def value_str(text):
    return b'\x03' + s(text)


def decode_reply(b):
    """'ok [...]' or 'error ...' from a reply payload."""
    if b[0] == 1:
        return 'error %d: %s' % (b[1], b[3:3 + b[2]].decode())
    count, = struct.unpack('!I', b[1:5])
    at, items = 5, []
    for _ in range(count):
        klen = b[at]
        key = b[at + 1:at + 1 + klen].decode()
        at += 1 + klen
        kind = b[at]
        at += 1
        if kind == 1:
            v, = struct.unpack('!q', b[at:at + 8])
            at += 8
        elif kind == 2:
            v, = struct.unpack('!d', b[at:at + 8])
            at += 8
        elif kind == 3:
            v = b[at + 1:at + 1 + b[at]].decode()
            at += 1 + b[at]
        else:
            v = None
        items.append((key, v) if key else v)
    return 'ok %r' % (items,)


def client_side(program):
    env = dict(os.environ, AUTHKEY=KEY.decode())
    server = subprocess.Popen([program, 'serve', '127.0.0.1:0'], env=env,
                              stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline().strip()  # "serving on 127.0.0.1:PORT"
        if not line.startswith('serving on '):
            print('the C manager did not start: %r' % line)
            return
        host, port = line.split()[-1].rsplit(':', 1)
        address = (host, int(port))
        print('C manager: serving on 127.0.0.1 (a port the kernel picked)')
        try:
            c = Client(address, authkey=KEY)
        except Exception as e:
            print('Client(address, authkey=KEY) raised ' + what(e))
            return
        print('Client(address, authkey=KEY): authenticated')
        c.send_bytes(struct.pack('!BI', PING, 0))
        print('  send_bytes(PING) -> recv_bytes(): ' + decode_reply(c.recv_bytes()))
        c.send_bytes(struct.pack('!BIB', CREATE, 0, DICT))
        reply = c.recv_bytes()
        print('  send_bytes(CREATE dict) -> recv_bytes(): ' + decode_reply(reply))
        ident, = struct.unpack('!q', reply[-8:])
        c.send_bytes(struct.pack('!BI', DICT_SET, ident) + s('from') + value_str('Python'))
        print("  send_bytes(d['from'] = 'Python') -> recv_bytes(): " + decode_reply(c.recv_bytes()))
        try:
            Client(address, authkey=WRONG)
            print('Client(address, authkey=WRONG): authenticated (it must not be)')
        except AuthenticationError as e:
            print('Client(address, authkey=WRONG) raised ' + what(e))
        c.send_bytes(struct.pack('!BI', ITEMS, ident))
        print('  the first client still served: d.items() -> ' + decode_reply(c.recv_bytes()))
        c.close()
    finally:
        server.terminate()
        try:
            server.wait(timeout=TIMEOUT)
            print('C manager: ended by SIGTERM, exit status %d' % server.returncode)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
            print('C manager: did not end within %d s of SIGTERM' % TIMEOUT)


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ('listener', 'client'):
        sys.exit('usage: py_interop.py listener AUTH_CLIENT | client TCP_QUEUE')
    print('Python %d.%d.%d' % sys.version_info[:3], file=sys.stderr)
    if sys.argv[1] == 'listener':
        listener_side(sys.argv[2])
    else:
        client_side(sys.argv[2])


main()
