rule track:
    input:
        unpack(detector_inputs),
        video=video_file,
        code=library("track", "video", "assets", "gpu"),
    output:
        npz="results/{video}/tracks.npz",
        txt="results/{video}/tracks.txt",
    log:
        "logs/track/{video}.log",
    benchmark:
        "benchmarks/track/{video}.tsv"
    conda:
        "../envs/track.yaml"
    threads: config["track"]["threads"]
    resources:
        gpu=gpu_request("track"),
    params:
        # the weights as named in the config: their known sha256 is looked up by this name
        weights_name=config["track"]["detector"],
        detector=stage_params("track", DETECTOR_KEYS),
        vid_stride=config["track"]["vid_stride"],
        on_truncated=config["track"]["on_truncated"],
        tracker=config["track"]["tracker"],
        tracker_params=config["track"]["tracker_params"],
    script:
        "../scripts/track.py"
