"""Cut the bundled demo/test sample from the shared AOL log: every row of every 16th user.

Real rows, verbatim (header kept), so the reader, the split and the metrics see the genuine
format. Run: python scripts/make_sample.py ../shared/data/aol/aol-top1000-2006-03-01_05-16.tsv.gz
"""

from __future__ import annotations

import gzip
import sys

EVERY = 16
OUT = "data/sample/aol-sample.tsv.gz"


def main(src: str) -> None:
    users: dict[str, int] = {}
    with gzip.open(src, "rt", encoding="utf-8") as fin, gzip.GzipFile(OUT, "wb", mtime=0) as raw:
        for n, line in enumerate(fin):
            if n == 0:
                raw.write(line.encode())
                continue
            u = line.split("\t", 1)[0]
            idx = users.setdefault(u, len(users))
            if idx % EVERY == 0:
                raw.write(line.encode())


if __name__ == "__main__":
    main(sys.argv[1])
