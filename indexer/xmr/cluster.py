"""Where the partitioned build's branch tasks run: Dask distributed, local or remote.

`ClusterParams` says how (a scheduler address, or a `LocalCluster` of `workers` processes of
one thread, each bounded to `worker_memory`); `run_tasks` maps one function over the tasks
and gathers the results in order. Scheduling, retries on a lost worker and memory limits
are Dask's; nothing here schedules. `distributed` is imported only when a cluster is
asked for: it is the optional `scale` extra.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from ..errors import PartitionError
from ..progress import Progress, ProgressLike

T = TypeVar("T")
R = TypeVar("R")

#: what to do when the partitioned build's libraries (Dask distributed, pyarrow) are missing
MISSING_SCALE = (
    "the partitioned build needs Dask distributed and pyarrow: pip install 'session-qac[scale]'"
)
#: the top-level modules of the `scale` extra
SCALE_MODULES = frozenset({"dask", "distributed", "pyarrow"})
#: seconds to wait for a remote scheduler before giving up
CONNECT_TIMEOUT_S = 30


@dataclass(frozen=True)
class ClusterParams:
    """How `build-index --partitions N` runs its branch tasks.

    partitions: top-level branches, at most (balanced by example count; a first character
        is never split, so fewer may come out); >= 1.
    scheduler: a Dask scheduler address (`tcp://HOST:PORT`) whose workers run the tasks;
        None starts a `LocalCluster` for the build and stops it afterwards.
    workers: the local cluster's worker processes (one thread each); ignored with
        `scheduler` (the cluster's own workers run the tasks).
    worker_memory: the local cluster's memory limit per worker (Dask's byte strings:
        "4GiB", "500MB"); Dask pauses a worker past 80% of it and restarts one past 95%.
        Ignored with `scheduler` (set `dask worker --memory-limit` there).
    work_dir: where branch inputs and parts go; None: `<out>.parts` beside the index. Every
        worker must see it (a shared file system on a real cluster).
    keep_parts: keep the work directory after a successful build (a re-run then reuses the
        parts whose inputs did not change); by default it is removed.
    """

    partitions: int = 8
    scheduler: str | None = None
    workers: int = 2
    worker_memory: str = "4GiB"
    work_dir: str | None = None
    keep_parts: bool = False

    def __post_init__(self) -> None:
        if self.partitions < 1:
            raise ValueError(f"partitions must be >= 1, got {self.partitions}")
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if self.scheduler is not None and "://" not in self.scheduler:
            raise ValueError(
                f"scheduler must be an address like tcp://HOST:PORT, got {self.scheduler!r}"
            )
        if self.memory_bytes <= 0:
            raise ValueError(f"worker_memory must be a positive size, got {self.worker_memory!r}")

    @property
    def memory_bytes(self) -> int:
        try:
            from dask.utils import parse_bytes
        except ImportError:
            raise PartitionError(MISSING_SCALE) from None
        try:
            return int(parse_bytes(self.worker_memory))
        except ValueError:
            raise ValueError(
                f"worker_memory must be a size like 4GiB or 500MB, got {self.worker_memory!r}"
            ) from None

    def work_path(self, out: Path) -> Path:
        """Where a build of the index `out` keeps its intermediate files: `work_dir`, else
        `<out>.parts` beside the index."""
        return Path(self.work_dir) if self.work_dir else out.with_name(f"{out.name}.parts")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


#: Dask starts workers with MALLOC_TRIM_THRESHOLD_=65536; setting it at all also fixes glibc's
#: mmap threshold, so every large numpy array freed is unmapped and faulted in again: a branch
#: task then spent as much time in the kernel as in Python (8M page faults per worker on a 4x
#: scaling log; `bench/README.md`). Unset (None), glibc keeps its adaptive thresholds.
MALLOC_TRIM = "MALLOC_TRIM_THRESHOLD_"
#: Workers of a cluster this build does not start get Dask's default unless their operator
#: unsets it in the nanny's Dask config (README "Building an index past one machine"); the
#: build reports what each worker had (`stats.xmr.partition.worker_malloc_trim_threshold`).
WORKER_ENVIRON: dict[str, Any] = {f"distributed.nanny.pre-spawn-environ.{MALLOC_TRIM}": None}


def _local_cluster(factory: Any, params: ClusterParams) -> Any:
    """A LocalCluster of one-thread workers bounded to `params.worker_memory`."""
    import dask

    with dask.config.set(WORKER_ENVIRON):
        return factory(
            n_workers=params.workers,
            threads_per_worker=1,
            processes=True,
            memory_limit=params.memory_bytes,
            dashboard_address="127.0.0.1:0",  # port 8787 may be taken; no fixed port
        )


def run_tasks(
    params: ClusterParams,
    fn: Callable[[T], R],
    tasks: Sequence[T],
    keys: Sequence[str],
    progress: ProgressLike = None,
    phase: str = "tasks",
) -> list[R]:
    """`fn(task)` for every task on the cluster, results in task order.

    keys: one Dask key per task, a digest of its inputs: a scheduler that already holds a
    key's result returns it instead of running the task again. `progress`: `phase`, one
    step per finished task. A task that fails, or a worker that keeps dying under it (past
    its memory limit, say), raises `PartitionError` naming the task.
    """
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise PartitionError(MISSING_SCALE) from None
    with Progress.of(progress).phase(phase, total=len(tasks)) as ph:
        cluster = None
        try:
            if params.scheduler is None:
                cluster = _local_cluster(LocalCluster, params)
                client = Client(cluster)
            else:
                client = Client(params.scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            if cluster is not None:
                cluster.close()
            where = params.scheduler or "a local cluster"
            raise PartitionError(f"cannot reach {where}: {exc}") from None
        try:
            futures = client.map(fn, tasks, key=list(keys))
            index = {f.key: i for i, f in enumerate(futures)}
            results: list[Any] = [None] * len(tasks)
            for fut in as_completed(futures):
                try:
                    results[index[fut.key]] = fut.result()
                except Exception as exc:  # a task's own error, or KilledWorker
                    raise PartitionError(
                        f"task {fut.key} failed: {type(exc).__name__}: {exc}"
                    ) from exc
                ph.advance(detail=str(fut.key))
            ph.finish(
                f"{len(tasks)} tasks on {params.scheduler or f'{params.workers} local workers'}"
            )
            return results
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
