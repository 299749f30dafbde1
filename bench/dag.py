"""Seconds Snakemake needs to plan the whole workflow (``snakemake -n``) for 1,000 videos; target < 15 s.

The sheet lists tiny placeholder files (planning never opens a video). The same dry run over one video
is the baseline in the same session: start-up and parsing, which do not grow with the sheet.

    .venv/bin/python bench/dag.py [--videos 1000] [--profile]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def make_workdir(root: Path, videos: int) -> Path:
    wd = root / f"videos{videos}"
    (wd / "config").mkdir(parents=True)
    (wd / "videos").mkdir()
    rows = ["video\tpath"]
    for i in range(videos):
        path = wd / "videos" / f"v{i:05d}.mp4"
        path.write_bytes(b"\0")
        rows.append(f"v{i:05d}\t{path}")
    (wd / "config" / "videos.tsv").write_text("\n".join(rows) + "\n")
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["videos"] = "config/videos.tsv"
    (wd / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    return wd


def dry_run(wd: Path, profile: bool) -> tuple[float, int]:
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(wd), "-n", "--quiet", "rules"]
    if profile:
        cmd.append("--runtime-profile=" + str(wd / "profile.txt"))
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"dry run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    total = re.search(r"^total\s+(\d+)", proc.stdout + proc.stderr, re.MULTILINE)
    return seconds, int(total[1]) if total else -1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=1000)
    parser.add_argument("--profile", action="store_true", help="also write yappi's profile of the large run (needs yappi)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        one = make_workdir(Path(tmp), 1)
        many = make_workdir(Path(tmp), args.videos)
        base_s, base_jobs = dry_run(one, profile=False)
        many_s, many_jobs = dry_run(many, profile=args.profile)
        print(f"dry run, 1 video:        {base_s:6.2f} s ({base_jobs} jobs)")
        print(f"dry run, {args.videos} videos: {many_s:6.2f} s ({many_jobs} jobs)  target < 15 s")
        print(f"ratio: {many_s / base_s:.1f}x the one-video dry run; {1000 * (many_s - base_s) / max(args.videos - 1, 1):.1f} ms per extra video")
        if args.profile:
            print((many / "profile.txt").read_text()[:6000])


if __name__ == "__main__":
    main()
