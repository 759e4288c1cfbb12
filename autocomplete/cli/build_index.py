"""`autocomplete build-index`: a query log in, a verified index directory out."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from indexer.errors import PartitionError
from indexer.freshfile import read_fresh_file
from indexer.kanon import KAnonParams
from indexer.params import MODELS, BuildParams
from indexer.report import BuildReport
from indexer.stream.params import StreamParams
from indexer.xmr.cluster import MISSING_SCALE, SCALE_MODULES, ClusterParams
from indexer.xmr.params import XMRParams

from .args import add_command, add_log_arg, add_split_args, count_or_zero, positive_int

NAME = "build-index"
HELP = "build an index directory from query logs"
EXAMPLE = "autocomplete build-index --log data/sample/aol-sample.tsv.gz --out index/sample"


def add_parser(sub: Any) -> None:
    b = add_command(
        sub,
        NAME,
        HELP,
        "Trains on the part of the log before --split's dev date (everything "
        "with --all) and fits the blend weights on the dev part. Progress goes to stderr: "
        "an updating line on a terminal, one plain line per phase otherwise.",
    )
    add_log_arg(b)
    b.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="index directory to write (replaced atomically); required",
    )
    b.add_argument(
        "--model",
        choices=MODELS,
        default="xmr",
        help="xmr: the session-aware XR-Linear ranker; mpc: popularity only (default %(default)s)",
    )
    b.add_argument(
        "--xmr-depth",
        type=int,
        default=XMRParams.depth,
        choices=range(4),
        metavar="{0..3}",
        help="xmr: trie levels above the k-means levels (default %(default)s)",
    )
    b.add_argument(
        "--xmr-workers",
        type=count_or_zero,
        default=0,
        metavar="N",
        help="xmr: training processes; the index is the same for any N "
        "(default %(default)s = one per CPU)",
    )
    b.add_argument(
        "--min-count",
        type=positive_int,
        default=1,
        metavar="N",
        help="a training query becomes a label when issued at least N times (default %(default)s)",
    )
    b.add_argument(
        "--min-users",
        type=positive_int,
        default=KAnonParams.min_users,
        metavar="K",
        help="share a query, ending or transition with others only when at least K distinct "
        "users issued it in training (default %(default)s; 1 = every training query)",
    )
    b.add_argument(
        "--max-repeats-per-day",
        type=count_or_zero,
        default=KAnonParams.max_repeats_per_day,
        metavar="N",
        help="a query counts at most N times per user per day (default %(default)s; 0 = no bound)",
    )
    b.add_argument(
        "--max-queries-per-day",
        type=count_or_zero,
        default=KAnonParams.max_queries_per_day,
        metavar="N",
        help="a user contributes at most N distinct queries a day, the first ones "
        "(default %(default)s; 0 = no bound)",
    )
    b.add_argument(
        "--all",
        action="store_true",
        help="train on every event, ignoring --split: the production build. The blend and "
        "learned trees are still fitted out of sample (on an index of the training part, "
        "scoring the dev part), then kept by the index of every event; not for evaluating "
        "(`evaluate` warns about such an index; default: off)",
    )
    b.add_argument(
        "--ranker",
        choices=("learned", "linear"),
        default="learned",
        help="learned: LambdaRank trees over the linear blend, both fitted on the dev part; "
        "linear: the linear blend alone (default %(default)s; ignored with --no-blend)",
    )
    b.add_argument(
        "--no-blend",
        action="store_true",
        help="serve the bare model: no generated completions, history or learned blend "
        "(default: off, the blend is fitted on the dev part)",
    )
    b.add_argument(
        "--fresh",
        action="append",
        default=[],
        metavar="FILE",
        help="fold counts from `autocomplete export-fresh` into the label counts "
        "(repeatable; default: none)",
    )
    b.add_argument(
        "--quiet",
        action="store_true",
        help="no progress on stderr (default: an updating line on a terminal, plain lines "
        "otherwise)",
    )
    add_split_args(b)
    add_cluster_args(b)
    b.set_defaults(func=run)


def add_cluster_args(b: argparse.ArgumentParser) -> None:
    """The partitioned build's flags (README "Scaling out"); with none of them, one process
    (and its --xmr-workers forks) trains the model."""
    g = b.add_argument_group(
        "partitioned build (xmr)",
        "Train each top-level trie branch as a task on Dask distributed; the index is the "
        "same as the single-process build's. Given --partitions or --scheduler, the build "
        "is partitioned and its driver streams the log (buckets of users on disk, one in "
        "memory at a time); otherwise these flags are ignored.",
    )
    g.add_argument(
        "--partitions",
        type=positive_int,
        metavar="N",
        help="at most N branches, balanced by training examples (a first character is "
        f"never split) (default: {ClusterParams.partitions} when --scheduler is given, "
        "else the single-process build)",
    )
    g.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="a running Dask scheduler whose workers train the branches; they must import "
        "this package and see --parts-dir (default: a local cluster for this build)",
    )
    g.add_argument(
        "--dask-workers",
        type=positive_int,
        default=ClusterParams.workers,
        metavar="N",
        help="the local cluster's worker processes, one thread each; ignored with "
        "--scheduler (default %(default)s)",
    )
    g.add_argument(
        "--worker-memory",
        default=ClusterParams.worker_memory,
        metavar="SIZE",
        help="the local cluster's memory limit per worker (4GiB, 500MB); Dask pauses a "
        "worker at 80%% of it and restarts it at 95%%; ignored with --scheduler "
        "(default %(default)s)",
    )
    g.add_argument(
        "--parts-dir",
        metavar="DIR",
        help="branch inputs (Parquet) and results (.npz); every worker must see it "
        "(default: OUT.parts beside the index, removed after the build)",
    )
    g.add_argument(
        "--buckets",
        type=positive_int,
        default=StreamParams.buckets,
        metavar="N",
        help="the driver spreads the log over N buckets of users on disk and holds one at a "
        "time (about 1/N of the log); the index does not depend on it (default %(default)s)",
    )
    g.add_argument(
        "--keep-parts",
        action="store_true",
        help="keep --parts-dir after the build: a re-run reuses every part whose inputs "
        "did not change (default: off)",
    )


def cluster_of(args: argparse.Namespace) -> ClusterParams | None:
    """The partitioned build's settings, or None for the single-process build."""
    if args.partitions is None and args.scheduler is None:
        return None
    return ClusterParams(
        partitions=args.partitions or ClusterParams.partitions,
        scheduler=args.scheduler,
        workers=args.dask_workers,
        worker_memory=args.worker_memory,
        work_dir=args.parts_dir,
        keep_parts=args.keep_parts,
    )


def stream_of(args: argparse.Namespace) -> StreamParams:
    return StreamParams(buckets=args.buckets)


def params_of(args: argparse.Namespace) -> BuildParams:
    return BuildParams(
        model=args.model,
        min_count=args.min_count,
        gap_s=args.gap_minutes * 60,
        split=args.split,
        use_all=args.all,
        blend=not args.no_blend,
        xmr=XMRParams(depth=args.xmr_depth, workers=args.xmr_workers),
        kanon=KAnonParams(
            min_users=args.min_users,
            max_repeats_per_day=args.max_repeats_per_day,
            max_queries_per_day=args.max_queries_per_day,
        ),
    )


def streamed_builder() -> Callable[..., BuildReport]:
    """`autocomplete.streamed.build_full_streamed`, imported only when a partitioned build is
    asked for: it needs the `scale` extra (pyarrow, Dask), which the default build, the
    Docker image and the server do without. Missing, it is a one-line error saying what to
    install."""
    try:
        from autocomplete.streamed import build_full_streamed
    except ImportError as exc:
        if (exc.name or "").split(".")[0] in SCALE_MODULES:
            raise PartitionError(MISSING_SCALE) from None
        raise
    return build_full_streamed


def run(args: argparse.Namespace) -> int:
    from autocomplete.build import build_full
    from autocomplete.fit import FitParams
    from indexer.progress import Progress

    from .progress import sink_for

    params = params_of(args)
    cluster = cluster_of(args)
    fresh = [read_fresh_file(path) for path in args.fresh]  # before the slow part
    progress = Progress(sink_for(sys.stderr, quiet=args.quiet))
    fit_params = FitParams() if args.ranker == "learned" else FitParams(trees=None)
    if cluster is None:
        report = build_full(args.log, args.out, params, progress, fit_params, fresh=fresh)
    else:
        report = streamed_builder()(
            args.log, args.out, params, cluster, stream_of(args), progress, fit_params, fresh
        )
    m = report.manifest
    print(
        f"built {m['model']} index {m['index_version']} with {m['label_count']} labels "
        f"in {report.seconds:.1f}s (peak RSS {report.peak_rss_mb:.0f} MB) -> {args.out}"
    )
    part = m["stats"].get("xmr", {}).get("partition")
    if part is not None:
        print(
            f"partitioned: {len(part['branches'])} branches on "
            f"{part['scheduler'] or str(part['workers']) + ' local workers'}, "
            f"largest worker peak RSS {part['worker_peak_rss_mb']:.0f} MB"
        )
        trims = [t for t in part.get("worker_malloc_trim_threshold", []) if t is not None]
        if trims:
            print(
                f"warning: Dask workers ran with MALLOC_TRIM_THRESHOLD_={', '.join(trims)}, "
                "which can double a branch's CPU time; unset it in the workers' Dask config "
                "(README, 'Building an index past one machine')",
                file=sys.stderr,
            )
    streamed = m["stats"].get("stream")
    if streamed is not None:
        print(
            f"streamed: {streamed['buckets']} buckets of users, the largest "
            f"{streamed['largest_bucket_events']} events; driver peak RSS before the blend fit "
            f"{streamed['driver_peak_rss_mb']:.0f} MB"
        )
    folded = m["stats"].get("fresh")
    if folded is not None:
        print(
            f"folded {folded['queries']} fresh queries from {len(folded['files'])} file(s): "
            f"{folded['new_labels']} new labels"
        )
    kept = m["stats"]["kanon"]
    print(
        f"shared with others (>= {kept['min_users']} users each): {kept['labels_kept']} labels "
        f"({kept['labels_dropped']} queries withheld), {kept['endings_kept']} endings, "
        f"{kept['transitions_kept']} transitions"
    )
    cov = m["stats"].get("dev_label_coverage")
    if cov is not None:
        print(f"dev queries that are labels: {cov:.1%}")
    return 0
