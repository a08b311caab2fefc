"""Scenario 6: a chunk server cut off from meta but not from the clients, and
the reverse (cut off from the clients but not from meta), while several
clients keep writing.

For every acknowledged put, right after its acknowledgement, the harness
reads `stat --chunks --json` and checks each chunk's file on the disk of
every member that must hold it: the members of the chunk's chain both at
the start of the put (admin status) and at the check (stat) — chains only
lose members while the fault lasts and only gain them after healing, so
those are the members the write went to. Each of them must hold the
chunk's exact bytes, and there must be at least two of them. After healing,
every acknowledged file reads back bit-exact.

Partitions are packet drops on the bridge (neither side is told: timeouts,
not errors), in both directions between the victim and the other side.
"""

import time

from faultlib import MIB, Dataset, WriteStream, scenario_rng, wait_for, wait_seconds

CHUNK = 1 * MIB  # small chunks: many PGs per file


def start_writers(cluster_factory, rng, streams_per_client, sizes):
    cluster = cluster_factory(5, client_hosts=2, meta_args=["--down-after", "2"])
    ds = Dataset(cluster.net.tmp / "src")
    c = cluster.client
    c.ok("mkdir", "/p")
    c.ok("policy", "set", "/p", "--chunk-size", str(CHUNK))
    checked = []

    def make_stream(client, name):
        def before_put():
            return cluster.chains(client)[1]

        def on_ack(remote, chains_before):
            def required(pg, chain):
                nodes = [n for n in chain if n in chains_before[pg]]
                assert len(nodes) >= 2, (f"{remote}: pg {pg} chain {chain} at the check, "
                                         f"{chains_before[pg]} before the put: fewer than two "
                                         f"members held it throughout")
                return nodes
            ds.check_replicas(cluster, client, remote, required)
            checked.append(remote)

        return WriteStream(ds, client, f"/p/{name}", sizes=sizes, seed=rng.random(),
                           put_timeout=100, before_put=before_put, on_ack=on_ack)

    streams = [make_stream(cl, f"{cl.host.name}-{i}")
               for cl in cluster.clients for i in range(streams_per_client)]
    return cluster, ds, streams, checked, make_stream


def set_phase(streams, phase):
    for s in streams:
        s.phase = phase


def finish(cluster, ds, streams, checked):
    for s in streams:
        s.stop()
    for s in streams:
        s.raise_errors()
    summary = {}
    for s in streams:
        for phase, (a, f, e) in s.summary().items():
            ta, tf, te = summary.get(phase, (0, 0, None))
            summary[phase] = (ta + a, tf + f, te or e)
    print(f"puts by phase (acknowledged, failed, first error): {summary}")
    print(f"replicas checked on disk for {len(checked)} acknowledged files")
    acked, prefixes = ds.verify(cluster.clients[1])
    print(f"verified {acked} acknowledged files ({prefixes} failed ones read back as a prefix)")
    return summary


def test_chunk_server_cut_off_from_meta(cluster_factory):
    """The victim keeps serving clients but cannot heartbeat: meta marks it
    DOWN and takes it out of its chains; clients still holding the old map
    may reach it, and must never get an acknowledgement for a chunk the
    new chain's members do not all hold."""
    rng = scenario_rng()
    cluster, ds, streams, checked, _ = start_writers(cluster_factory, rng, 2, (1, 4 * MIB))
    victim = rng.choice(cluster.chunks)
    net = cluster.net
    for s in streams:
        s.start()
    wait_seconds(2.0, streams)

    set_phase(streams, "partitioned")
    net.partition([victim.host], [cluster.meta.host])
    t0 = time.monotonic()
    cluster.wait_node_state(victim, "down", timeout=20)
    print(f"{victim} (node {victim.node_id}) down {time.monotonic() - t0:.1f}s after the cut")
    wait_seconds(5.0, streams)

    set_phase(streams, "healed")
    net.heal()
    cluster.wait_healthy(timeout=30)
    wait_seconds(3.0, streams)
    summary = finish(cluster, ds, streams, checked)
    assert summary["partitioned"][0] >= 1, summary
    # Writes went on: a node that stops heartbeating leaves its chains.
    failed = [(r.argv[-1], r.stderr.strip()) for s in streams for _, r in s.failed()]
    assert not failed, f"puts failed although every chain had live members: {failed}"


def test_chunk_server_cut_off_from_clients(cluster_factory):
    """The victim keeps heartbeating (so it stays UP and in its chains) but
    the clients cannot reach it. Writes whose chain it heads wait (a client
    report about a node that heartbeats is not enough to take it out);
    writes where it is a later member go through the head. Nothing is
    acknowledged that the victim, as a chain member, does not hold; once
    healed, the waiting writes complete."""
    rng = scenario_rng()
    cluster, ds, streams, checked, make_stream = start_writers(cluster_factory, rng, 2, (1, CHUNK))
    victim = rng.choice(cluster.chunks)
    net = cluster.net
    for s in streams:
        s.start()
    wait_seconds(2.0, streams)

    set_phase(streams, "partitioned")
    net.partition([victim.host], [cl.host for cl in cluster.clients])
    wait_seconds(8.0, streams)
    # Each stream waits at its first file whose chunk the victim heads; if
    # every one is waiting and none got through the cut, add streams until
    # one does, so the check is never vacuous.
    extra = 0
    while not any(s.acked("partitioned") for s in streams) and extra < 6:
        extra += 1
        s = make_stream(cluster.clients[extra % 2], f"extra-{extra}")
        s.phase = "partitioned"
        streams.append(s.start())
        wait_seconds(2.0, streams)
    st = cluster.status()
    states = {n["id"]: n["state"] for n in st["nodes"]}
    assert states[victim.node_id] == "up", f"{victim} should stay up (it heartbeats): {st}"
    assert any(victim.node_id in pg["chain"] for pg in st["pgs"])

    set_phase(streams, "healed")
    net.heal()
    wait_seconds(4.0, streams)
    summary = finish(cluster, ds, streams, checked)
    assert summary["partitioned"][0] >= 1, summary
    # Every put completed once the victim was reachable again (the cut
    # lasted far less than the client's data deadline).
    failed = [(r.argv[-1], r.stderr.strip()) for s in streams for _, r in s.failed()]
    assert not failed, f"puts failed: {failed}"
