"""Snakemake adapter for rule ``track``: see reidflow.track."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821  the workflow's own reidflow

from reidflow import assets, backends, gpu, runtime, track, video
from reidflow.formats.mot import write_mot
from reidflow.formats.tracks import Tracks, TracksMeta, write_tracks


def main(smk):
    # checked before anything loads it; the ONNX backend loads only the export, but the hash is recorded
    weights_sha256 = assets.verify_for_job(smk.input.weights, smk.params.weights_name, Path(smk.scriptdir).parent)
    gpu_job = smk.resources.get("gpu", 0) > 0
    # a GPU job on a workstation runs on a device of its own (reidflow.gpu); CPU jobs are untouched
    with gpu.job_device(smk.params.track["device"], gpu_job) as device:
        settings = track.TrackSettings.from_config(smk.params.track, device=device)
        params = track.tracker_params(settings.tracker, settings.tracker_params)
        detector = track.build_detector(
            smk.input.weights,
            smk.input.get("onnx"),
            settings,
            smk.threads,
            gpu=backends.job_gpu(smk.resources.get("gpu", 0)),
        )
        rows, info = track.track_video(smk.input.video, detector, params, settings.vid_stride, settings.batch)
    # a truncated file: warn (the shortfall is recorded in info) or fail
    video.check_complete(smk.input.video, info, settings.on_truncated)
    meta = TracksMeta(
        video=smk.wildcards.video,
        source=str(smk.input.video),
        info=info,
        vid_stride=settings.vid_stride,
        detector=Path(smk.input.weights).name,
        detector_sha256=weights_sha256,
        tracker=settings.tracker,
        tracker_params=params,
    )
    write_tracks(smk.output.npz, Tracks(rows, meta))
    write_mot(smk.output.txt, rows)


runtime.run(snakemake, main)  # noqa: F821
