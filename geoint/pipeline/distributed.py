"""The Dask engine of `geoint analyze --engine dask` (docs/scale.md).

Partition tasks (`geoint.pipeline.partitions.analyze_partition`) run on dask.distributed
workers, which read the ping parts themselves (a shared folder or an object store) and build
the ground from the region folder; the client combines their results and writes them with
the same store as the local engine. Without a scheduler address a `LocalCluster` of `workers`
processes is started here and closed at the end.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from geoint.errors import GeointError
from geoint.pipeline.partitions import Engine, PartitionResult, Task, analyze_partition


@contextmanager
def dask_engine(scheduler: str | None = None, workers: int = 2) -> Iterator[Engine]:
    """Yield an engine running partition tasks on the Dask cluster at `scheduler` (an address
    such as ``tcp://10.0.0.5:8786``), or on a local cluster of `workers` processes."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise GeointError(
            "--engine dask needs dask.distributed: pip install 'geoint[dask]'"
        ) from None
    cluster = None
    if scheduler is None:
        # one thread per worker: the track kernels use numba's own threads
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
    try:
        client = Client(cluster if cluster is not None else scheduler, timeout="30s")
    except OSError as exc:
        if cluster is not None:
            cluster.close()
        raise GeointError(f"--scheduler {scheduler}: no Dask scheduler answers ({exc})") from None
    try:
        yield lambda tasks: _run(client, tasks)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _run(client: object, tasks: Sequence[Task]) -> Iterator[PartitionResult]:
    """Submit every partition and hand back each result as soon as it is done."""
    from dask.distributed import as_completed

    futures = client.map(analyze_partition, list(tasks), pure=False)  # type: ignore[attr-defined]
    for future in as_completed(futures):
        yield future.result()
        future.release()  # the client keeps only what `combine` holds
