"""Planning cost: reidflow's dry run (``snakemake -n``) of 1,000 videos against Snakemake's own floor.

The floor is a plain Snakefile that this script derives from reidflow's own plan of two videos: the same
rules, each with the same data inputs and outputs (every video has ground truth, so ``evaluate`` is
planned too), hence the same DAG and job count (both printed), but string inputs and a shell command
only: no input functions, params, logs, benchmarks, scripts, conda envs or code inputs. Both run in
this process, interleaved (plain, reidflow, plain, ...), several repetitions; the figures are medians.
Target: reidflow <= 1.3x the floor.

The ratio is taken on CPU seconds (user + sys of ``snakemake`` and its children): a dry run is
single-threaded, so on an idle machine this is its wall time, and it stays put when other work shares
the cores, or when every Snakemake start waits for SLURM (README, Profiles). Wall seconds are printed
too. The sheet lists tiny placeholder files (planning never opens a video), and local placeholder
weights (no download jobs).

    .venv/bin/python bench/dag.py [--videos 1000] [--repeats 5] [--profile]

``--profile`` also writes a cProfile of one more reidflow dry run and prints its top entries.
"""

from __future__ import annotations

import argparse
import pstats
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def video_id(i: int) -> str:
    return f"v{i:05d}"


def make_workdir(root: Path, videos: int, name: str | None = None) -> Path:
    """A reidflow project: a sheet of ``videos`` placeholder videos with ground truth, local weights.

    Paths are relative to the project, so that the plain Snakefile's project can hold the same files.
    """
    wd = root / (name or f"videos{videos}")
    for sub in ("config", "videos", "models"):
        (wd / sub).mkdir(parents=True)
    rows = ["video\tpath\tgt"]
    for i in range(videos):
        video, gt = f"videos/{video_id(i)}.mp4", f"videos/{video_id(i)}.gt.txt"
        (wd / video).write_bytes(b"\0")
        (wd / gt).write_bytes(b"\0")
        rows.append(f"{video_id(i)}\t{video}\t{gt}")
    (wd / "config" / "videos.tsv").write_text("\n".join(rows) + "\n")
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["videos"] = "config/videos.tsv"
    config["models_dir"] = "models"
    for name in (config["track"]["detector"], config["features"]["weights"]):
        (wd / "models" / name).write_bytes(b"\0")
    (wd / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    return wd


def planned_rules(wd: Path) -> dict[str, tuple[list[str], list[str], bool]]:
    """rule -> (inputs, outputs, per video) of the first job of each rule that a dry run prints."""
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(wd), "-n"],
        capture_output=True,
        text=True,
        cwd=wd,
    )
    if proc.returncode != 0:
        raise SystemExit(f"dry run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    rules = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", proc.stdout + proc.stderr):
        head = re.match(r"(?:local)?rule (\w+):", block.strip())
        if not head or head[1] in rules:
            continue
        fields = {key: re.search(rf"^\s+{key}: (.*)$", block, flags=re.M) for key in ("input", "output", "wildcards")}
        inputs, outputs = ([] if fields[k] is None else fields[k][1].split(", ") for k in ("input", "output"))
        # data only: not the workflow's code (its modules and templates, or a manifest listing them)
        inputs = [
            f
            for f in inputs
            if not (f.startswith(".snakemake/") or (wd / f).resolve().is_relative_to(REPO / "reidflow"))
        ]
        per_video = fields["wildcards"] is not None and "video=" in fields["wildcards"][1]
        rules[head[1]] = (inputs, outputs, per_video)
    return rules


def make_plain(root: Path, videos: int, scripted: bool = False) -> Path:
    """The floor: a plain Snakefile with reidflow's DAG, in a project holding the same source files.

    ``scripted``: each rule runs a one-line ``script:`` of its own instead of a shell command, as every
    reidflow rule does: Snakemake then looks up each job's script source while planning (its
    ``ScriptProcessor``), a per-job cost of the ``script:`` directive itself.
    """
    rules = planned_rules(make_workdir(root, 2, name=f"shape{int(scripted)}"))
    wd = make_workdir(root, videos, name=f"{'scripted' if scripted else 'plain'}{videos}")
    if scripted:
        (wd / "scripts").mkdir()
    first, second = video_id(0), video_id(1)

    def generic(paths: list[str]) -> list[str]:  # ids -> {video}, each path once, in order
        return list(dict.fromkeys(p.replace(first, "{video}").replace(second, "{video}") for p in paths))

    def expr(path: str, per_video: bool) -> str:
        return f"expand({path!r}, video=VIDEOS)" if "{video}" in path and not per_video else repr(path)

    text = [f"VIDEOS = [f'v{{i:05d}}' for i in range({videos})]", "", ""]
    for name, (inputs, outputs, per_video) in sorted(
        rules.items(), key=lambda item: item[0] != "all"
    ):  # all: the default target
        outputs = generic(outputs)
        text += [f"rule {name}:"]
        if inputs:
            text += ["    input:"] + [f"        {expr(p, per_video)}," for p in generic(inputs)]
        if outputs:  # a folder holding another output of the job is a directory() output, as in reidflow
            text += ["    output:"] + [
                f"        directory({p!r})," if any(o.startswith(p + "/") for o in outputs) else f"        {p!r},"
                for p in outputs
            ]
            if scripted:
                (wd / "scripts" / f"{name}.py").write_text("snakemake  # noqa: B018\n")
                text += ["    script:", f'        "scripts/{name}.py"']
            else:
                text += ["    shell:", '        "touch {output}"']
        text += ["", ""]
    (wd / "Snakefile").write_text("\n".join(text))
    return wd


def dry_run(snakefile: Path, wd: Path, profile_to: Path | None = None) -> tuple[float, float, int]:
    """(CPU seconds, wall seconds, planned jobs) of one ``snakemake -n``."""
    cmd = [sys.executable]
    if profile_to:
        cmd += ["-m", "cProfile", "-o", str(profile_to)]
    cmd += [
        "-m",
        "snakemake",
        "--snakefile",
        str(snakefile),
        "--directory",
        str(wd),
        "--cores",
        "1",
        "-n",
        "--quiet",
        "rules",
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=wd)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"dry run of {snakefile} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    total = re.search(r"^total\s+(\d+)", proc.stdout + proc.stderr, re.MULTILINE)
    return cpu, wall, int(total[1]) if total else -1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="also cProfile one reidflow dry run, print the top")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        one, many = make_workdir(Path(tmp), 1), make_workdir(Path(tmp), args.videos)
        plain, scripted = make_plain(Path(tmp), args.videos), make_plain(Path(tmp), args.videos, scripted=True)
        cases = (
            ("plain", plain / "Snakefile", plain, f"plain Snakefile, {args.videos} videos"),
            ("scripted", scripted / "Snakefile", scripted, f"plain + script:, {args.videos} videos"),
            ("reidflow", REPO / "Snakefile", many, f"reidflow, {args.videos} videos"),
            ("one", REPO / "Snakefile", one, "reidflow, 1 video"),
        )
        runs: dict[str, list[tuple[float, float]]] = {key: [] for key, *_ in cases}
        jobs = {}
        for _ in range(args.repeats):  # interleaved: a drift of the machine's speed hits all alike
            for key, snakefile, wd, _label in cases:
                cpu, wall, jobs[key] = dry_run(snakefile, wd)
                runs[key].append((cpu, wall))
        med = {key: (statistics.median(c for c, _ in r), statistics.median(w for _, w in r)) for key, r in runs.items()}
        print(f"dry runs, medians of {args.repeats} interleaved repetitions (CPU s / wall s):")
        for key, _snakefile, _wd, label in cases:
            print(f"  {label + ':':<36} {med[key][0]:6.2f} / {med[key][1]:6.2f}  ({jobs[key]} jobs)")
        for floor, what in (("plain", "plain (shell:)"), ("scripted", "plain + script:")):
            pairs = [r[0] / p[0] for r, p in zip(runs["reidflow"], runs[floor])]
            print(
                f"ratio reidflow / {what}: {med['reidflow'][0] / med[floor][0]:.2f}x CPU "
                f"(per-pair median {statistics.median(pairs):.2f}x, range {min(pairs):.2f}-{max(pairs):.2f}), "
                f"{med['reidflow'][1] / med[floor][1]:.2f}x wall"
            )
        print(
            "target: reidflow <= 1.3x the plain floor; the script: directive alone costs "
            f"{med['scripted'][0] / med['plain'][0]:.2f}x of it (Snakemake's own per-job script lookup)"
        )
        if len({jobs["plain"], jobs["scripted"], jobs["reidflow"]}) > 1:
            print(f"note: the job counts differ ({jobs}): make_plain missed part of the DAG")
        if args.profile:
            out = Path(tmp) / "dag.prof"
            dry_run(REPO / "Snakefile", many, profile_to=out)
            stats = pstats.Stats(str(out), stream=sys.stdout)
            stats.sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
