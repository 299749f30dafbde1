rule report:
    input:
        unpack(report_inputs),
        code=library("report"),
        templates=REPORT_TEMPLATES,
    output:
        html="results/{video}/report/index.html",
        # one animation per kept track: their names are known only once final_crops.h5 exists
        webp=directory("results/{video}/report/webp"),
    log:
        "logs/report/{video}.log",
    benchmark:
        "benchmarks/report/{video}.tsv"
    conda:
        "../envs/report.yaml"
    params:
        report=config["report"],
    script:
        "../scripts/report.py"


rule report_index:
    input:
        reports=expand("results/{video}/report/index.html", video=VIDEOS),
        tracks=expand("results/{video}/tracks.npz", video=VIDEOS),
        clusters=expand("results/{video}/clusters.json", video=VIDEOS),
        evaluations=[f"results/{v}/evaluation.json" for v in VIDEOS if VIDEOS[v].gt],
        code=library("report"),
        templates=REPORT_TEMPLATES,
    output:
        html="results/report/index.html",
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
    script:
        "../scripts/report_index.py"
