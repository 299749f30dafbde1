rule identities:
    input:
        tracks="results/{video}/tracks.npz",
        clusters="results/{video}/clusters.json",
        code=library(
            "identities",
            "pieces",
            "formats/similarity",
            "ids",
            "files",
            "formats/base",
            "formats/tracks",
            "formats/mot",
            "formats/clusters",
            "formats/identities",
        ),
    output:
        npz="results/{video}/identities.npz",
        txt="results/{video}/identities.txt",
    log:
        "logs/identities/{video}.log",
    conda:
        "../envs/similarity.yaml"
    params:
        # why a track has no identity: crops keeps only tracks with this many detections
        min_track_frames=config["crops"]["min_track_frames"],
    script:
        "../scripts/identities.py"
