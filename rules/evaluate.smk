rule evaluate:
    input:
        **evaluation_inputs(),
        tracks="results/{video}/tracks.npz",
        clusters="results/{video}/clusters.json",
        identities="results/{video}/identities.npz",  # its filled boxes: identities are scored as delivered
        code=library(
            "evaluate",
            "formats/identities",
            "pieces",
            "formats/similarity",
            "settings",
            "files",
            "formats/base",
            "formats/tracks",
            "formats/mot",
            "formats/persons",
            "formats/clusters",
            "formats/evaluation",
        ),
    output:
        evaluation=report(
            "results/{video}/evaluation.json",
            caption="report/evaluation.rst",
            category="Videos",
            labels={"video": "{video}", "page": "evaluation"},
        ),
    log:
        "logs/evaluate/{video}.log",
    conda:
        "../envs/similarity.yaml"
    params:
        evaluate=stage_params("evaluate"),
    script:
        "../scripts/evaluate.py"


# Cross-video links of rule people against the ground truth of the videos with gt and persons
# (PEOPLE_TRUTH_VIDEOS; a target of rule all when there are at least two).
rule evaluate_people:
    input:
        people="results/people/people.json",
        tracks=[f"results/{v}/tracks.npz" for v in PEOPLE_TRUTH_VIDEOS],
        clusters=[f"results/{v}/clusters.json" for v in PEOPLE_TRUTH_VIDEOS],
        gt=[VIDEOS[v].gt for v in PEOPLE_TRUTH_VIDEOS],
        persons=[VIDEOS[v].persons for v in PEOPLE_TRUTH_VIDEOS],
        code=library(
            "evaluate",
            "pieces",
            "formats/similarity",
            "settings",
            "files",
            "formats/base",
            "formats/tracks",
            "formats/mot",
            "formats/persons",
            "formats/clusters",
            "formats/evaluation",
            "formats/people",
        ),
    output:
        evaluation="results/people/evaluation.json",
    log:
        "logs/evaluate_people/people.log",
    conda:
        "../envs/similarity.yaml"
    params:
        videos=PEOPLE_TRUTH_VIDEOS,
        evaluate=stage_params("evaluate"),
    script:
        "../scripts/evaluate_people.py"
