rule select_people:
    input:
        people="results/people/people.json",
        identities=expand("results/{video}/identities.npz", video=VIDEOS),
        crops=expand("results/{video}/final_crops.h5", video=VIDEOS),
        code=library(
            "selected",
            "files",
            "formats/base",
            "formats/crops",
            "formats/identities",
            "formats/mot",
            "formats/people",
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
