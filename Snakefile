from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


validate(config, "config/schemas/config.schema.yaml")


include: "rules/common.smk"
include: "rules/models.smk"
include: "rules/track.smk"
include: "rules/crops.smk"
include: "rules/features.smk"
include: "rules/similarity.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        all_outputs(),
