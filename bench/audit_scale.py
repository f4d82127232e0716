"""Time and peak memory of `mllint audit` as a cluster grows: 1,000 and 10,000 objects of
../shared/corpus, replicated across namespaces and served by the local API server of the tests.

    python bench/audit_scale.py [--sizes 1000,10000] [--page-size 500] [--write]

Each size runs `mllint audit --format json` (and with --write, PolicyReports applied too) as a
subprocess against the server in this process, through the real `kubernetes` client over
loopback; its peak RSS comes from the kernel's accounting of that child alone (wait4). The
baseline is the audit of an empty cluster (start-up, discovery, imports) in the same run; every
size is also printed as a ratio to the smallest one, so that "flat in the number of objects"
reads as an RSS ratio near 1 while the object ratio is 10. Nothing here fails on time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "audit"))

from apiserver import (  # noqa: E402 - the server lives with the tests, found through sys.path
    CORPUS,
    APIServer,
    corpus_cluster,
    corpus_objects,
    default_resources,
    kubeconfig,
    serve,
)


def _mllint() -> str:
    beside = Path(sys.executable).with_name("mllint")
    return str(beside) if beside.is_file() else "mllint"


def measure(
    api: APIServer, page_size: int, write: bool, quiet: bool, tmp: Path
) -> tuple[float, float, int, int]:
    """(seconds, peak RSS in MiB, pages requested, findings) of one `mllint audit` run."""
    config = kubeconfig(tmp / "kubeconfig", api.url)
    args = [_mllint(), "audit", "--kubeconfig", str(config), "--format", "json"]
    args += ["--page-size", str(page_size), "--output", os.devnull]
    if quiet:
        args.append("--quiet")
    if write:
        args.append("--write")
    env = os.environ | {"MLLINT_EXEMPT_NAMESPACES": "[]"}
    before = len(api.requests)
    start = time.perf_counter()
    process = subprocess.Popen(args, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    log = process.stderr.read().decode() if process.stderr else ""
    if process.returncode not in (0, 1):
        raise SystemExit(f"mllint audit failed ({process.returncode}):\n{log}")
    pages = sum(1 for r in api.requests[before:] if "limit" in r.query)
    fields = dict(f.split("=", 1) for f in log.split() if "=" in f)
    return seconds, usage.ru_maxrss / 1024, pages, int(fields.get("findings", 0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--write", action="store_true", help="apply PolicyReports as well")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        raise SystemExit(f"the shared corpus is not at {CORPUS}")
    sizes = [int(s) for s in args.sizes.split(",")]
    corpus = corpus_objects()
    print(f"mllint audit, page size {args.page_size}{', --write' if args.write else ''}")
    with tempfile.TemporaryDirectory() as tmp:
        with serve(APIServer(default_resources())) as empty:
            base = measure(empty, args.page_size, args.write, False, Path(tmp))
        print(f"baseline (empty cluster): {base[0]:.2f} s, peak RSS {base[1]:.1f} MiB")
        header = f"{'objects':>8} {'findings':>9} {'pages':>6} {'time s':>7} {'RSS MiB':>8}"
        print(f"{'report':>8} {header} {'x time':>7} {'x RSS-base':>10}")
        for quiet in (False, True):
            rows = []
            for size in sizes:
                api = APIServer(default_resources())
                stored = corpus_cluster(api, size, corpus)
                with serve(api):
                    rows.append(
                        (stored, *measure(api, args.page_size, args.write, quiet, Path(tmp)))
                    )
            first = rows[0]
            for stored, seconds, rss, pages, findings in rows:
                growth = (rss - base[1]) / max(first[2] - base[1], 0.1)
                print(
                    f"{'none' if quiet else 'json':>8} {stored:>8} {findings:>9} {pages:>6} "
                    f"{seconds:>7.2f} {rss:>8.1f} {seconds / first[1]:>7.2f} {growth:>10.2f}"
                )


if __name__ == "__main__":
    main()
