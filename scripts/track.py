"""Snakemake adapter for rule ``track``: see reidflow.track."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821  the workflow's own reidflow

from reidflow import assets, formats, gpu, runtime, track, video


def main(smk):
    p = smk.params
    # checked before anything loads it; the ONNX backend loads only the export, but the hash is recorded
    weights_sha256 = assets.verify_for_job(smk.input.weights, p.weights_name, Path(smk.scriptdir).parent)
    # a GPU job on a workstation runs on a device of its own (reidflow.gpu); CPU jobs are untouched
    with gpu.job_device(p.detector["device"], gpu_job=smk.resources.get("gpu", 0) > 0) as device:
        settings = track.DetectorSettings(**{**p.detector, "device": device})
        params = track.tracker_params(p.tracker, p.tracker_params)
        detector = track.build_detector(smk.input.weights, smk.input.get("onnx"), settings, smk.threads)
        rows, info = track.track_video(smk.input.video, detector, params, vid_stride=p.vid_stride, batch=settings.batch)
    video.check_complete(smk.input.video, info, p.on_truncated)  # a truncated file: warn (recorded in info) or fail
    meta = formats.TracksMeta(
        video=smk.wildcards.video,
        source=str(smk.input.video),
        info=info,
        vid_stride=p.vid_stride,
        detector=Path(smk.input.weights).name,
        detector_sha256=weights_sha256,
        tracker=p.tracker,
        tracker_params=params,
    )
    formats.write_tracks(smk.output.npz, formats.Tracks(rows, meta))
    formats.write_mot(smk.output.txt, rows)


runtime.run(snakemake, main)  # noqa: F821
