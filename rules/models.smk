rule download_model:
    output:
        model="resources/models/{model_file}",
    log:
        "logs/download_model/{model_file}.log",
    conda:
        "../envs/track.yaml"
    params:
        url=lambda w: MODEL_REGISTRY[w.model_file].url,
        sha256=lambda w: MODEL_REGISTRY[w.model_file].sha256,
    script:
        "../scripts/download_model.py"


rule demo_video:
    output:
        video=DEMO_VIDEO,
    log:
        "logs/demo_video/vtest.log",
    conda:
        "../envs/track.yaml"
    params:
        url=assets.DEMO_VIDEO_URL,
        sha256=assets.DEMO_VIDEO_SHA256,
    script:
        "../scripts/demo_video.py"
