"""record_handshake.py - record Python's authkey handshake, byte for byte.

usage: PYTHON tests/tools/record_handshake.py ok|wrongkey > FILE

Runs the two halves of multiprocessing.connection's handshake - the
functions Listener.accept() and Client() call, in their order - on the two
ends of a socket pair, one thread each, and writes every frame that crosses
it.  os.urandom is replaced by a fixed function so that the same Python
always records the same bytes: the recording can be committed
(tests/data/) and replayed by tests/tools/mp_replay.c on a machine that has
only one Python, or none.

"ok": both sides hold the key, then the client sends b'hello' and the server
answers b'HELLO'.  "wrongkey": the client's key is wrong; the server sends
#FAILURE# and both raise AuthenticationError.

The file: '#' comments, then "key HEX", "nonce server HEX", "nonce client
HEX" (the random bytes each side drew, in order), then one line per frame,
"S HEX" (server to client) or "C HEX", the 4-byte length included, then
"result server TEXT" and "result client TEXT".
"""
import hashlib
import os
import socket
import sys
import threading
from multiprocessing import connection

KEY = b'lesson-11 secret'
WRONG = b'not the secret'


def fixed_urandom(n, _count=[0]):
    """The n 'random' bytes of call number k: SHA-256 of b'call k', repeated."""
    _count[0] += 1
    seed = hashlib.sha256(b'call %d' % _count[0]).digest()
    return (seed * (n // len(seed) + 1))[:n]


def recording(conn, side, log, lock):
    """Wrap conn._send so that every frame it writes is logged."""
    original = conn._send

    def send(buf, *rest):
        with lock:
            log.append((side, bytes(buf)))
        return original(buf, *rest)
    conn._send = send


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in ('ok', 'wrongkey'):
        sys.exit('usage: record_handshake.py ok|wrongkey')
    scenario = sys.argv[1]
    nonces = []
    real = fixed_urandom

    def logged_urandom(n):
        data = real(n)
        nonces.append(data)
        return data
    os.urandom = logged_urandom

    a, b = socket.socketpair()
    server = connection.Connection(a.detach())
    client = connection.Connection(b.detach())
    log, lock = [], threading.Lock()
    recording(server, 'S', log, lock)
    recording(client, 'C', log, lock)
    results = {}

    def serve():
        try:
            connection.deliver_challenge(server, KEY)
            connection.answer_challenge(server, KEY)
            results['server'] = 'got ' + repr(server.recv_bytes())
            server.send_bytes(b'HELLO')
        except Exception as e:
            results['server'] = type(e).__name__ + ': ' + str(e)
        finally:
            server.close()

    t = threading.Thread(target=serve)
    t.start()
    key = KEY if scenario == 'ok' else WRONG
    try:
        connection.answer_challenge(client, key)
        connection.deliver_challenge(client, key)
        client.send_bytes(b'hello')
        results['client'] = 'got ' + repr(client.recv_bytes())
    except Exception as e:
        results['client'] = type(e).__name__ + ': ' + str(e)
    finally:
        client.close()
    t.join()

    v = sys.version_info
    print('# Python %d.%d.%d, multiprocessing.connection, scenario %s' % (v[0], v[1], v[2], scenario))
    print('# recorded by tests/tools/record_handshake.py (os.urandom fixed)')
    print('key', KEY.hex())
    if scenario != 'ok':
        print('clientkey', WRONG.hex())
    for side, data in zip(('server', 'client'), nonces):
        print('nonce', side, data.hex())
    for side, data in log:
        print(side, data.hex())
    print('result server', results.get('server'))
    print('result client', results.get('client'))


main()
