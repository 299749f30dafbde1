rule people:
    input:
        tracks=expand("results/{video}/tracks.npz", video=VIDEOS),
        crops=expand("results/{video}/final_crops.h5", video=VIDEOS),
        features=expand("results/{video}/features.h5", video=VIDEOS),
        clusters=expand("results/{video}/clusters.json", video=VIDEOS),
        code=library(
            "people",
            "piece_crops",
            "pieces",
            "similarity",
            "ids",
            "settings",
            "files",
            "formats/base",
            "formats/tracks",
            "formats/crops",
            "formats/features",
            "formats/similarity",
            "formats/clusters",
            "formats/people",
        ),
    output:
        people="results/people/people.json",
    log:
        "logs/people/people.log",
    benchmark:
        "benchmarks/people/people.tsv"
    conda:
        "../envs/similarity.yaml"
    params:
        videos=list(VIDEOS),
        people=stage_params("people"),
        # the cross-video decisions only: a video's own entry reruns its cluster, and people through it
        overrides=PEOPLE_OVERRIDES,
    script:
        "../scripts/people.py"
