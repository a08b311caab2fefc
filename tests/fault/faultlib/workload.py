"""Background write streams for fault scenarios.

    stream = WriteStream(ds, client, "/w/s1", sizes=(1 * MIB, 4 * MIB), seed=1)
    stream.start()
    ... inject faults; stream.phase = "partitioned" ...
    stream.stop()            # waits for the put in flight; returns its stats
    stream.raise_errors()    # an exception in the thread (a failed check) fails the test

A stream is one thread that puts new files (random sizes in `sizes`, fresh
random bytes) one after another from one client host, each with its own
timeout, and records each in the Dataset (acknowledged on exit 0). Every put
is tagged with the stream's `phase` at the time it started, so a scenario
can require that writes were acknowledged while a fault was in force.
`on_ack(remote, before)` runs after each acknowledged put (e.g. to check
its replicas on disk), where `before` is what `before_put()` returned just
before the put started (e.g. the cluster map's chains).

Sources are generated ahead of time (a small pool), so a put is never
delayed by writing its local file.
"""

import os
import random
import threading
import time


def scenario_rng():
    """A random.Random seeded from $CAIRN_FAULT_SEED, or from a new seed
    that is printed (shown with the test's output when it fails), so a
    failing run's choices can be replayed."""
    s = int(os.environ.get("CAIRN_FAULT_SEED", "0")) or random.randrange(1, 1 << 30)
    print(f"CAIRN_FAULT_SEED={s}")
    return random.Random(s)


class WriteStream:
    def __init__(self, dataset, client, remote_dir, sizes, seed, put_timeout=120,
                 before_put=None, on_ack=None, pause=0.0):
        self.ds = dataset
        self.client = client
        self.dir = remote_dir
        self.sizes = sizes
        self.rng = random.Random(seed)
        self.put_timeout = put_timeout
        self.before_put = before_put
        self.on_ack = on_ack
        self.pause = pause
        self.phase = "start"
        self.results = []   # (phase, remote, CliResult)
        self.errors = []    # exceptions raised in the thread
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"writer {remote_dir}",
                                        daemon=True)
        self._n = 0

    def start(self):
        """Creates the remote directory (and its parents), then starts."""
        self.client.ok("mkdir", "-p", self.dir)
        self._thread.start()
        return self

    def _run(self):
        try:
            while not self._stop.is_set():
                self._n += 1
                name = f"f{self._n:04d}"
                tag = self.dir.strip("/").replace("/", "_")
                src = self.ds.source(f"{tag}-{name}", self.rng.randint(*self.sizes))
                remote = f"{self.dir}/{name}"
                phase = self.phase
                before = self.before_put() if self.before_put else None
                r = self.ds.put(self.client, src, remote, timeout=self.put_timeout)
                self.results.append((phase, remote, r))
                if r.returncode == 0 and self.on_ack:
                    self.on_ack(remote, before)
                if self.pause:
                    self._stop.wait(self.pause)
        except BaseException as e:  # noqa: BLE001 - reported by raise_errors
            self.errors.append(e)

    def stop(self, timeout=180):
        """Stops after the put in flight; returns the results."""
        self._stop.set()
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"{self._thread.name} did not stop in {timeout}s"
        return self.results

    def raise_errors(self):
        if self.errors:
            raise self.errors[0]

    def acked(self, phase=None):
        return [remote for p, remote, r in self.results if r.returncode == 0
                and (phase is None or p == phase)]

    def failed(self, phase=None):
        return [(remote, r) for p, remote, r in self.results if r.returncode != 0
                and (phase is None or p == phase)]

    def summary(self):
        """{phase: (acknowledged, failed, first error message)}."""
        out = {}
        for p, _, r in self.results:
            a, f, e = out.get(p, (0, 0, None))
            if r.returncode != 0 and e is None:
                e = f"exit {r.returncode}: {r.stderr.strip()[:200]}"
            out[p] = (a + (r.returncode == 0), f + (r.returncode != 0), e)
        return out


def wait_seconds(seconds, streams=()):
    """Sleeps `seconds`, failing early if a stream's thread raised."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for s in streams:
            s.raise_errors()
        time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
