# Not in rule all unless the config says `annotate: true` (all_outputs in common.smk).
rule annotate:
    input:
        video=video_file,
        tracks="results/{video}/tracks.npz",
        identities="results/{video}/identities.npz",
        # the labels are person ids across videos: a new video (a new people.json) reruns every annotate job
        people="results/people/people.json",
        code=library(
            "annotate",
            "video",
            "files",
            "formats/base",
            "formats/tracks",
            "formats/mot",
            "formats/identities",
            "formats/people",
        ),
    output:
        video="results/{video}/annotated.mp4",
    log:
        "logs/annotate/{video}.log",
    benchmark:
        "benchmarks/annotate/{video}.tsv"
    conda:
        "../envs/annotate.yaml"
    threads: 2
    script:
        "../scripts/annotate.py"
