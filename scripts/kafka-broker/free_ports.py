"""Prints two distinct TCP ports on 127.0.0.1 that the kernel hands out as free (for scripts/kafka.sh).

Both are held until both are chosen, so the two cannot be the same port.
"""

import socket

socks = []
for _ in range(2):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
