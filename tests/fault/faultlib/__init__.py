"""Cairn's fault-test harness: servers on separate network hosts (Linux
network namespaces on a private bridge), faults (kill, pause, partition,
disk damage), and the bookkeeping of what was acknowledged. See
docs/testing.md, "Fault tests"."""

from .cluster import KIB, MIB, Cluster, chunk_data_offset
from .dataset import Dataset, Source
from .mutations import LiveFiles, ReadStream, disk_chunk_ids
from .net import Host, Network, NetError, reap_stale_runs, wait_for
from .servers import Background, ChunkServer, Client, CliResult, MetaServer, ServerError
from .workload import WriteStream, scenario_rng, wait_seconds

__all__ = ["KIB", "MIB", "Background", "ChunkServer", "Client", "CliResult", "Cluster",
           "Dataset", "Host", "LiveFiles", "MetaServer", "NetError", "Network", "ReadStream", "ServerError", "Source",
           "WriteStream", "chunk_data_offset", "disk_chunk_ids", "reap_stale_runs", "scenario_rng", "wait_for",
           "wait_seconds"]
