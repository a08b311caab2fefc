"""Fixtures of the fault tests (docs/testing.md, "Fault tests").

Every test gets its own Network (namespaces, bridge, subnet, temporary
directory) and the clusters it makes on it; all of it is removed at
teardown, whatever the outcome. On failure the servers' logs are printed
(pytest shows them under "Captured stdout teardown"), and copied to
$CAIRN_FAULT_KEEP/<test>/ when that is set.

The binary is $CAIRN_BIN, or <repo>/build/bin/cairn. Needs root, `ip` and
`nft` (scripts/deps.sh).
"""

import os
import shutil
import signal
from pathlib import Path

import pytest

from faultlib import Cluster, Network

REPO = Path(__file__).resolve().parents[2]
CAIRN_BIN = os.environ.get("CAIRN_BIN") or str(REPO / "build" / "bin" / "cairn")


def _sigterm_to_interrupt(signum, frame):
    # SIGTERM ends the run the way Ctrl-C does, so every fixture's teardown
    # still removes its processes, namespaces and directories.
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config):
    signal.signal(signal.SIGTERM, _sigterm_to_interrupt)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def _failed(request):
    return any(getattr(request.node, f"rep_{w}", None) is not None and
               getattr(request.node, f"rep_{w}").failed for w in ("setup", "call"))


@pytest.fixture(scope="session")
def cairn_bin():
    if os.geteuid() != 0:
        pytest.fail("the fault tests need root (network namespaces)", pytrace=False)
    for tool in ("ip", "nft"):
        if not shutil.which(tool):
            pytest.fail(f"the fault tests need `{tool}` (scripts/deps.sh)", pytrace=False)
    p = Path(CAIRN_BIN)
    if not (p.is_file() and os.access(p, os.X_OK)):
        pytest.fail(f"cairn binary not found at {p}: build it or set CAIRN_BIN", pytrace=False)
    return str(p)


@pytest.fixture
def net(request):
    """A fresh Network for the test; closed (everything removed) at teardown."""
    n = Network()
    yield n
    n.close()


@pytest.fixture
def cluster_factory(cairn_bin, net, request):
    """Returns new_cluster(chunk_servers=5, client_hosts=1, meta_args=(),
    chunk_args=(), start=True) -> Cluster on the test's network. Every
    cluster is stopped by PID at teardown; a server that does not exit 0 on
    SIGTERM fails the test."""
    clusters = []

    def new_cluster(chunk_servers=5, client_hosts=1, meta_args=(), chunk_args=(), start=True):
        c = Cluster(cairn_bin, net, chunk_servers, client_hosts, meta_args, chunk_args)
        clusters.append(c)
        return c.start() if start else c

    yield new_cluster
    bad = []
    try:
        for c in clusters:
            net.heal()  # let graceful shutdowns reach meta
            bad += c.close()
    finally:
        if _failed(request) or bad:
            keep = os.environ.get("CAIRN_FAULT_KEEP")
            for c in clusters:
                for s in c.servers:
                    print(f"===== {s} (pid {s.proc.pid if s.proc else '-'}) =====")
                    print(s.log_tail(60))
                    if keep:
                        d = Path(keep) / request.node.name
                        d.mkdir(parents=True, exist_ok=True)
                        (d / f"{s.name}.log").write_text(s.logs())
    if bad:
        pytest.fail("\n".join(f"{s} exited {code} on SIGTERM:\n{s.log_tail()}"
                              for s, code in bad), pytrace=False)
