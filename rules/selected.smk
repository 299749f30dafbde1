rule select_people:
    input:
        people="results/people/people.json",
        identities=expand("results/{video}/identities.npz", video=VIDEOS),
        crops=expand("results/{video}/final_crops.h5", video=VIDEOS),
        clusters=expand("results/{video}/clusters.json", video=VIDEOS),
        code=library(
            "selected",
            "piece_crops",
            "pieces",
            "files",
            "formats/base",
            "formats/clusters",
            "formats/crops",
            "formats/identities",
            "formats/mot",
            "formats/people",
            "formats/similarity",
            "formats/tracks",
        ),
    output:
        # one folder per selected person: their ids are known only once people.json exists
        selected=directory("results/people/selected"),
    log:
        "logs/select_people/select_people.log",
    conda:
        "../envs/report.yaml"
    params:
        videos=list(VIDEOS),
        # the best crops per appearance: as many as the people stage compares
        max_crops=config["people"]["max_crops"],
    script:
        "../scripts/select_people.py"
