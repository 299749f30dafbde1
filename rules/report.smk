rule report:
    input:
        **report_inputs(),
        code=library(
            "files",
            "pieces",
            "piece_crops",
            "formats/base",
            "formats/clusters",
            "formats/crops",
            "formats/evaluation",
            "formats/features",
            "formats/similarity",
            "formats/tracks",
            "report/heatmap",
            "report/images",
            "report/metrics",
            "report/render",
            "report/video",
            "settings",
        ),
        templates=REPORT_TEMPLATES,
    output:
        html="results/{video}/report/index.html",
        # one animation per kept track: their names are known only once final_crops.h5 exists
        webp=directory("results/{video}/report/webp"),
        # the page with its WebPs, for `snakemake --report report.zip` (a folder with its index.html)
        page=report(
            directory("results/{video}/report"),
            htmlindex="index.html",
            caption="report/video.rst",
            category="Videos",
            labels={"video": "{video}", "page": "identities"},
        ),
    log:
        "logs/report/{video}.log",
    benchmark:
        "benchmarks/report/{video}.tsv"
    conda:
        "../envs/report.yaml"
    params:
        report=stage_params("report"),
    script:
        "../scripts/report.py"


rule report_index:
    input:
        reports=expand("results/{video}/report/index.html", video=VIDEOS),
        tracks=expand("results/{video}/tracks.npz", video=VIDEOS),
        clusters=expand("results/{video}/clusters.json", video=VIDEOS),
        evaluations=[f"results/{v}/evaluation.json" for v in VIDEOS if VIDEOS[v].gt],
        # the people cards; a video's own page never reads it (adding a video reruns no other page)
        people="results/people/people.json",
        code=library(
            "files",
            "formats/similarity",
            "formats/base",
            "formats/clusters",
            "formats/evaluation",
            "formats/people",
            "formats/tracks",
            "report/index",
            "report/metrics",
            "report/render",
        ),
        templates=REPORT_TEMPLATES,
    output:
        html=report(
            "results/report/index.html",
            caption="report/index.rst",
            category="Overview",
            labels={"page": "all videos"},
        ),
        # each identity's person for the video pages, which load it when opened (they never read people.json)
        people_js="results/report/people.js",
        # the overrides file in force, for the pages' decisions panel: its export adds a person's decisions
        decisions_js="results/report/decisions.js",
    log:
        "logs/report_index/report_index.log",
    conda:
        "../envs/report.yaml"
    params:
        videos=list(VIDEOS),
        with_gt=[v for v in VIDEOS if VIDEOS[v].gt],
        # every stage's settings (the sections of the config), shown on the page
        settings={
            key: value for key, value in config.items() if isinstance(value, dict)
        },
        # the decisions in force (cluster.overrides, read when the workflow starts): a param, not an input, so
        # that an edit which changes no decision (a comment) reruns nothing
        decisions={
            "path": config["cluster"]["overrides"],
            "videos": {
                video: overrides_param(CLUSTER_OVERRIDES, video)
                for video in CLUSTER_OVERRIDES
            },
            "people": PEOPLE_OVERRIDES,
        },
    script:
        "../scripts/report_index.py"
