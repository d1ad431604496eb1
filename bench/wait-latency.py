#!/usr/bin/env python3
"""How soon `devport wait PORT` returns after a server binds.

Each trial starts `devport wait PORT`, then a listener that binds PORT on 127.0.0.1 after a
random delay (50-300 ms) and notes the time right after listen(). Two figures per trial:
"seen", when devport's own connection to the port (its check that the port accepts) arrives,
minus the bind: how soon devport notices; and "exit", when devport has exited, minus the
bind: that plus naming the socket's owner (a scan of every process's sockets) and exiting.

    python3 bench/wait-latency.py [DEVPORT] [TRIALS] [--owned]

A temporary registry and config are used, never the user's; the port is one the OS picked.
"""

import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def trial(devport, env, owned):
    port = free_port()
    args = [devport, "wait", str(port), "--timeout", "10s"]
    if owned:
        args.append("--owned")
    waiter = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # Let devport start and make its first checks before the bind.
    time.sleep(random.uniform(0.05, 0.3))
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(16)
    bound = time.monotonic()
    # Accept (and drop) the connection devport makes to see that the port accepts.
    stop = threading.Event()
    seen = []

    def serve():
        server.settimeout(0.05)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                seen.append(time.monotonic())
                conn.close()
            except OSError:
                pass

    acceptor = threading.Thread(target=serve)
    acceptor.start()
    code = waiter.wait()
    exited = time.monotonic()
    stop.set()
    acceptor.join()
    server.close()
    if code != 0:
        raise SystemExit(f"devport wait exited {code}: {waiter.stderr.read().decode()}")
    return ((seen[0] if seen else exited) - bound) * 1000, (exited - bound) * 1000


def main():
    argv = [a for a in sys.argv[1:] if a != "--owned"]
    owned = "--owned" in sys.argv
    devport = os.path.abspath(argv[0] if argv else "target/release/devport")
    trials = int(argv[1]) if len(argv) > 1 else 100
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ)
        env["DEVPORT_REGISTRY"] = os.path.join(tmp, "registry.toml")
        env["DEVPORT_CONFIG"] = os.path.join(tmp, "config.toml")
        os.chdir(tmp)
        results = [trial(devport, env, owned) for _ in range(trials)]
    print(f"{devport}{' --owned' if owned else ''}: {trials} trials")
    for name, column in (("seen", 0), ("exit", 1)):
        latencies = sorted(r[column] for r in results)
        p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))]
        print(
            f"  {name}: median {statistics.median(latencies):.1f} ms, "
            f"p95 {p95:.1f} ms, max {latencies[-1]:.1f} ms"
        )


if __name__ == "__main__":
    main()
