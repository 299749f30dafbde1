rule similarity:
    input:
        features="results/{video}/features.h5",
        tracks="results/{video}/tracks.npz",
        code=library("similarity"),
    output:
        similarity="results/{video}/similarity.json",
    log:
        "logs/similarity/{video}.log",
    benchmark:
        "benchmarks/similarity/{video}.tsv"
    conda:
        "../envs/similarity.yaml"
    params:
        similarity=config["similarity"],
    script:
        "../scripts/similarity.py"


rule cluster:
    input:
        similarity="results/{video}/similarity.json",
        tracks="results/{video}/tracks.npz",
        code=library("cluster", "overrides", "similarity"),
    output:
        clusters="results/{video}/clusters.json",
    log:
        "logs/cluster/{video}.log",
    benchmark:
        "benchmarks/cluster/{video}.tsv"
    conda:
        "../envs/similarity.yaml"
    params:
        cluster=stage_params("cluster", CLUSTER_KEYS),
        # this video's slice only: editing another video's overrides reruns nothing here
        overrides=cluster_overrides,
    script:
        "../scripts/cluster.py"


rule evaluate:
    input:
        tracks="results/{video}/tracks.npz",
        clusters="results/{video}/clusters.json",
        gt=ground_truth,
        code=library("evaluate"),
    output:
        evaluation="results/{video}/evaluation.json",
    log:
        "logs/evaluate/{video}.log",
    conda:
        "../envs/similarity.yaml"
    params:
        evaluate=config["evaluate"],
    script:
        "../scripts/evaluate.py"
