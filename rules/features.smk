rule features:
    input:
        crops="results/{video}/final_crops.h5",
        weights=REID_WEIGHTS,
        code=library("features", "gpu", "assets"),
    output:
        features="results/{video}/features.h5",
    log:
        "logs/features/{video}.log",
    benchmark:
        "benchmarks/features/{video}.tsv"
    conda:
        "../envs/features.yaml"
    threads: config["features"]["threads"]
    resources:
        gpu=gpu_request("features"),
    params:
        weights_name=config["features"]["weights"],
        features=stage_params("features", FEATURE_KEYS),
    script:
        "../scripts/features.py"
