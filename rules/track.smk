rule export_detector:
    input:
        weights=DETECTOR_WEIGHTS,
        code=library(
            "track",
            "trackers",
            "video",
            "backends",
            "settings",
            "assets",
            "files",
            "formats/base",
            "formats/tracks",
        ),
    output:
        onnx=DETECTOR_ONNX,
    log:
        "logs/export_detector/detector.log",
    conda:
        "../envs/track.yaml"
    params:
        imgsz=config["track"]["imgsz"],
        weights_name=config["track"]["detector"],
    script:
        "../scripts/export_detector.py"


rule track:
    input:
        **detector_inputs(),
        video=listed_video,
        code=library(
            "track",
            "trackers",
            "video",
            "assets",
            "gpu",
            "backends",
            "settings",
            "files",
            "formats/base",
            "formats/tracks",
            "formats/mot",
        ),
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
        track=stage_params("track"),
    script:
        "../scripts/track.py"
