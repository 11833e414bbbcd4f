"""Benchmark: what a worker's scratch folder costs to make, in a round's folder that spreads them or not.

Each round makes ``--folders`` folders the way a worker's is made (a folder,
``src/`` with six small files, an output file), one every ``--gap`` seconds
as a batch makes them, and deletes each once made, as a batch does when its
worker ends. The round's folder is either ``plain`` (a temporary folder, as
before) or ``spread`` (``scratch.make_root``: ``spread_subfolders``). It
reports the CPU this thread spent making a folder (median and mean over the
round), in ms. The two kinds alternate, round after round.

On an ext4 file system without a journal, the kernel looks for a new file's
inode past every inode freed in the last minutes in its block group
(``recently_deleted``), so the machine's recent deletions, the rounds' own
included, make ``plain`` folders dearer and dearer; ``spread`` folders go to
quiet groups. Elsewhere (tmpfs, a journalled ext4) both cost the same.
Compare figures of one run: how dear ``plain`` is depends on what the
machine deleted in the last minutes.

    python bench/scratch_churn.py [--folders 400] [--gap 0.02] [--rounds 3] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from grader.sandbox.scratch import make_root, remove_tree

SOURCE = b"import torch\n\n\ndef make_tensor():\n    return torch.ones(2, 3)\n"


def one_round(parent: Path, folders: int, gap: float, kind: str) -> dict[str, float]:
    if kind == "spread":
        root = make_root(str(parent / "churn-"))
    else:
        root = Path(tempfile.mkdtemp(prefix="churn-", dir=parent))
        root.chmod(0o711)
    made: list[float] = []
    for _ in range(folders):
        start = time.thread_time()
        folder = Path(tempfile.mkdtemp(prefix="w-", dir=root))
        (folder / "src").mkdir()
        for i in range(6):
            (folder / "src" / f"ex0{i}.py").write_bytes(SOURCE)
        (folder / ".output").write_bytes(b"")
        made.append(time.thread_time() - start)
        remove_tree(folder)
        time.sleep(gap)
    remove_tree(root)
    return {
        "make_folder_ms": round(statistics.median(made) * 1e3, 3),
        "make_folder_mean_ms": round(statistics.fmean(made) * 1e3, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folders", type=int, default=400)
    parser.add_argument("--gap", type=float, default=0.02, help="seconds between two folders")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each kind, alternated")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    figures = []
    for _ in range(args.rounds):
        for kind in ("plain", "spread"):
            figures.append({"root": kind, **one_round(args.dir, args.folders, args.gap, kind)})
            print(json.dumps(figures[-1]), flush=True)


if __name__ == "__main__":
    main()
