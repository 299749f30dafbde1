rule crops:
    input:
        tracks="results/{video}/tracks.npz",
        video=video_file,
        code=library("crops", "video"),
    output:
        crops="results/{video}/final_crops.h5",
    log:
        "logs/crops/{video}.log",
    benchmark:
        "benchmarks/crops/{video}.tsv"
    conda:
        "../envs/track.yaml"
    params:
        crops=config["crops"],
    script:
        "../scripts/crops.py"
