"""Time and peak memory of `mllint audit` as a cluster grows: 1,000 and 10,000 objects of
../shared/corpus, replicated across namespaces and served by the local API server of the tests.

    python bench/audit_scale.py [--sizes 1000,10000] [--page-size 500] [--write]

Each cluster is served by a subprocess of this script (`--serve N`), so that the audit, a
subprocess too, starts from a small parent: on Linux a child's peak RSS counts what its parent
held when it was forked. Each size runs `mllint audit --format json` (report built and written
to /dev/null) and `mllint audit --quiet` (the CronJob's mode: no report text), with --write
PolicyReports applied too, through the real `kubernetes` client over loopback; peak RSS comes
from the kernel's accounting of that child alone (wait4), and the pages are the list requests
the server received. The baseline is the audit of an empty cluster (start-up, discovery,
imports) in the same run; every size is also printed as a ratio to the smallest, so that "flat
in the number of objects" reads as an RSS ratio near 1 while the object ratio is 10. Nothing here
fails on time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

from corpus_run import mllint_command

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "audit"))


def serve_cluster(size: int) -> None:
    """The `--serve N` mode: hold N corpus objects, print the URL, then answer `pages` on stdin
    with the number of list requests so far, until stdin closes."""
    from apiserver import APIServer, corpus_cluster, corpus_objects, default_resources, serve

    api = APIServer(default_resources())
    stored = corpus_cluster(api, size, corpus_objects()) if size else 0
    with serve(api):
        print(f"{api.url} {stored}", flush=True)
        for _ in sys.stdin:
            print(sum(1 for r in api.requests if "limit" in r.query), flush=True)


class Cluster:
    def __init__(self, size: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(size)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        url, stored = self._pipe(self.process.stdout).readline().split()
        self.url, self.stored = url, int(stored)

    @staticmethod
    def _pipe(stream: IO[str] | None) -> IO[str]:
        assert stream is not None
        return stream

    def pages(self) -> int:
        self._pipe(self.process.stdin).write("pages\n")
        self._pipe(self.process.stdin).flush()
        return int(self._pipe(self.process.stdout).readline())

    def close(self) -> None:
        self._pipe(self.process.stdin).close()
        self.process.wait(timeout=60)


def measure(
    cluster: Cluster, page_size: int, write: bool, quiet: bool, tmp: Path
) -> tuple[float, float, int, int]:
    """(seconds, peak RSS in MiB, pages requested, findings) of one `mllint audit` run."""
    from apiserver import kubeconfig

    config = kubeconfig(tmp / "kubeconfig", cluster.url)
    args = [mllint_command(), "audit", "--kubeconfig", str(config), "--format", "json"]
    args += ["--page-size", str(page_size), "--output", os.devnull]
    if quiet:
        args.append("--quiet")
    if write:
        args.append("--write")
    env = os.environ | {"MLLINT_EXEMPT_NAMESPACES": "[]"}
    before = cluster.pages()
    start = time.perf_counter()
    with tempfile.TemporaryFile() as log_file:
        process = subprocess.Popen(args, stderr=log_file, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        log_file.seek(0)
        log = log_file.read().decode()
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"mllint audit failed ({code}):\n{log}")
    fields = dict(f.split("=", 1) for f in log.split() if "=" in f)
    rss = usage.ru_maxrss / 1024
    return seconds, rss, cluster.pages() - before, int(fields.get("findings", 0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--write", action="store_true", help="apply PolicyReports as well")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve_cluster(args.serve)
        return
    from apiserver import CORPUS

    if not CORPUS.is_dir():
        raise SystemExit(f"the shared corpus is not at {CORPUS}")
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"mllint audit, page size {args.page_size}{', --write' if args.write else ''}")
    with tempfile.TemporaryDirectory() as tmp:
        empty = Cluster(0)
        base = measure(empty, args.page_size, args.write, False, Path(tmp))
        empty.close()
        print(f"baseline (empty cluster): {base[0]:.2f} s, peak RSS {base[1]:.1f} MiB")
        header = f"{'objects':>8} {'findings':>9} {'pages':>6} {'time s':>7} {'RSS MiB':>8}"
        print(f"{'report':>8} {header} {'x time':>7} {'x RSS-base':>10}")
        for quiet in (False, True):
            rows = []
            for size in sizes:
                cluster = Cluster(size)
                rows.append(
                    (
                        cluster.stored,
                        *measure(cluster, args.page_size, args.write, quiet, Path(tmp)),
                    )
                )
                cluster.close()
            first = rows[0]
            for stored, seconds, rss, pages, findings in rows:
                growth = (rss - base[1]) / max(first[2] - base[1], 0.1)
                print(
                    f"{'none' if quiet else 'json':>8} {stored:>8} {findings:>9} {pages:>6} "
                    f"{seconds:>7.2f} {rss:>8.1f} {seconds / first[1]:>7.2f} {growth:>10.2f}"
                )


if __name__ == "__main__":
    main()
