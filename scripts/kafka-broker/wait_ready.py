"""Waits until a broker started by scripts/kafka.sh answers; exits 1 if it fails, 3 if a port is taken.

Usage: wait_ready.py PID HOST:PORT TIMEOUT_S LOG OFFSET. First the listener must accept connections,
then a metadata request must list the broker. Meanwhile the broker process must stay alive, and its
log LOG, read past byte OFFSET (what earlier starts wrote), must not say that a port is in use.
"""

import logging
import socket
import sys
import time

pid, bootstrap, timeout = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
log, offset = sys.argv[4], int(sys.argv[5])
host, port = bootstrap.rsplit(":", 1)
deadline = time.monotonic() + timeout


def alive() -> bool:
    # An exited broker is a zombie (state Z) until its parent, this script, ends.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def fail(msg: str, code: int = 1) -> None:
    print(f"kafka.sh: {msg}", file=sys.stderr)
    sys.exit(code)


def check() -> None:
    running = alive()
    try:
        with open(log, "rb") as f:
            f.seek(offset)
            new = f.read()
    except OSError:
        new = b""
    # A failed bind leaves the broker running, half started; another process may even answer there.
    if b"Address already in use" in new:
        fail("a port of the broker is taken", 3)
    if not running:
        fail("the broker exited during start-up")


while True:  # the listener
    check()
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
        break
    except OSError:
        if time.monotonic() > deadline:
            fail(f"nothing listens on {bootstrap} after {timeout:.0f} s")
        time.sleep(0.1)

try:
    from kafka import KafkaAdminClient
except ImportError:
    print(
        "kafka.sh: kafka-python not found, the broker was only checked to accept connections",
        file=sys.stderr,
    )
    sys.exit(0)

logging.disable(logging.CRITICAL)
# Short timeouts, so that a half-started broker's log is looked at again soon (the names differ between
# kafka-python 2.x and 3.x: only those this one knows are passed).
config = dict(
    bootstrap_servers=bootstrap,
    client_id="kafka.sh",
    request_timeout_ms=2000,
    bootstrap_timeout_ms=2000,
    api_version_auto_timeout_ms=2000,
)
config = {k: v for k, v in config.items() if k in KafkaAdminClient.DEFAULT_CONFIG}
last: object = None
while True:  # a metadata request that lists this broker
    check()
    try:
        admin = KafkaAdminClient(**config)
        try:
            if admin.describe_cluster()["brokers"]:
                break
            last = "no broker in the metadata yet"
        finally:
            admin.close()
    except Exception as e:
        last = e
    if time.monotonic() > deadline:
        fail(f"{bootstrap} did not answer a metadata request after {timeout:.0f} s: {last!r}")
    time.sleep(0.2)
