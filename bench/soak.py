"""Soak: SIGKILL the collector at random points of ingestion, many times; nothing acknowledged lost.

Each round starts ``microfunnel serve`` on 127.0.0.1, sends batches from several threads (small
batches, and big ones so that kills land inside the writer's store insert too), kills the server
with SIGKILL after a random delay and, every other round, appends a torn record to the live spool
segment (what a write cut short by the crash leaves). After the last round a clean start replays
the spool; every acknowledged event must then be in the store exactly once, and every torn tail
must have been detected and set aside.

    python bench/soak.py --rounds 20            # about a minute
    python bench/soak.py --rounds 200 --seed 1  # the long run

Bounded: each round stops within ``--max-round`` seconds, the run within ``--max-seconds``.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

import httpx

from microfunnel.config import Project
from microfunnel.project import init_project


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(project: Path, port: int, timeout: float = 30.0) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "microfunnel", "serve", "-p", str(project), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the server did not start")


def sender(url: str, key: str, prefix: str, size: int, acked: list[str], stop: threading.Event):
    """Send batches of ``size`` until the server dies or ``stop``; keep what was acknowledged."""
    n = 0
    with httpx.Client(timeout=10) as client:
        while not stop.is_set() and n < 2_000_000:
            batch = [
                {
                    "event": "page_view",
                    "event_id": f"{prefix}-{n + i}",
                    "anonymous_id": f"a{i % 97}",
                }
                for i in range(size)
            ]
            try:
                r = client.post(
                    f"{url}/v1/events",
                    json={"batch": batch},
                    headers={"Authorization": f"Bearer {key}"},
                )
            except httpx.HTTPError:
                return
            if r.status_code == 200:
                acked.extend(e["event_id"] for e in batch)
            n += size


def tear(spool: Path, rng: random.Random) -> bool:
    """Append a record cut short to the live segment, as a crash mid-write leaves it."""
    segments = sorted(spool.glob("*.log"))
    if not segments:
        return False
    payload = rng.randbytes(rng.randint(64, 4096))
    record = struct.pack("<4sII", b"MFS1", len(payload), zlib.crc32(payload)) + payload
    with open(segments[-1], "ab") as f:
        f.write(record[: rng.randint(1, len(record) - 1)])
    return True


def soak(args: argparse.Namespace) -> dict[str, float]:
    rng = random.Random(args.seed)
    folder = Path(tempfile.mkdtemp(prefix="mf-soak-"))
    created = init_project(folder / "p", name="soak")
    acked: list[str] = []
    torn = 0
    began = time.monotonic()
    rounds = 0
    for r in range(args.rounds):
        if time.monotonic() - began > args.max_seconds:
            break
        port = free_port()
        proc = start(created.project.path, port)
        stop = threading.Event()
        got: list[str] = []
        sizes = [50, 50, args.big_batch]
        threads = [
            threading.Thread(
                target=sender,
                args=(f"http://127.0.0.1:{port}", created.write_key, f"r{r}s{k}", size, got, stop),
                daemon=True,
            )
            for k, size in enumerate(sizes[: args.senders])
        ]
        for t in threads:
            t.start()
        if r % 2:  # odd rounds kill mid-ingestion; even ones may kill while the worker starts
            deadline = time.monotonic() + args.max_round
            while not got and time.monotonic() < deadline:
                time.sleep(0.02)
        time.sleep(rng.uniform(0.2, min(args.max_round, 2.0)))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        stop.set()
        for t in threads:
            t.join(args.max_round)
        acked.extend(got)
        if r % 2 == 1 and tear(created.project.spool_path, rng):
            torn += 1
        rounds += 1
        print(f"round {r + 1}: {len(got)} acknowledged", flush=True)
    port = free_port()
    proc = start(created.project.path, port)  # a clean start replays the spool
    proc.send_signal(signal.SIGTERM)
    proc.wait(60)
    with Project(created.project.path).open_store() as store:
        cols = store.query("SELECT event_id, count(*) AS n FROM events GROUP BY event_id")
    counts = dict(zip(*cols.to_pydict().values(), strict=True))
    missing = [e for e in acked if e not in counts]
    set_aside = len(list(created.project.spool_path.glob("torn-*.bin")))
    return {
        "rounds": rounds,
        "acknowledged": len(acked),
        "stored": len(counts),
        "missing": len(missing),
        "duplicated": sum(1 for n in counts.values() if n > 1),
        "torn_tails_written": torn,
        "torn_tails_set_aside": set_aside,
        "seconds": round(time.monotonic() - began, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--senders", type=int, default=3, choices=[1, 2, 3])
    parser.add_argument("--big-batch", type=int, default=5000, help="events per big batch")
    parser.add_argument("--max-round", type=float, default=20.0, help="seconds per round, at most")
    parser.add_argument("--max-seconds", type=float, default=1800.0, help="whole run, at most")
    result = soak(parser.parse_args())
    print(" ".join(f"{k}={v}" for k, v in result.items()))
    ok = result["missing"] == 0 and result["duplicated"] == 0
    ok = ok and result["torn_tails_set_aside"] >= result["torn_tails_written"]
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
