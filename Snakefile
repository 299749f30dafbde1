import sys
from pathlib import Path

import yaml
from snakemake.utils import min_version, update_config, validate

min_version("9.0")

sys.path.insert(0, workflow.basedir)  # the workflow's own reidflow, installed or not

from reidflow.config import check_config, typed_cli_config

CONFIG_SCHEMA = "config/schemas/config.schema.yaml"


configfile: "config/config.yaml"


# `snakemake --report report.zip`: this text, the rule graph, runtimes and the pages marked report(...)
report: "rules/report/workflow.rst"


# Nested --config values arrive as text (track='{conf: 0.3}' gives '0.3'): type them as the schema says.
# (Only then is the schema read here: validate reads it anyway.)
if workflow.config_settings.config:
    update_config(
        config,
        typed_cli_config(
            workflow.config_settings.config,
            yaml.safe_load((Path(workflow.basedir) / CONFIG_SCHEMA).read_text()),
        ),
    )
validate(config, CONFIG_SCHEMA)
# What the schema cannot express (NaN/inf, tracker parameter ranges, crops.weights), before any job runs.
check_config(config)


include: "rules/common.smk"
include: "rules/models.smk"
include: "rules/track.smk"
include: "rules/crops.smk"
include: "rules/features.smk"
include: "rules/similarity.smk"
include: "rules/cluster.smk"
include: "rules/evaluate.smk"
include: "rules/identities.smk"
include: "rules/people.smk"
include: "rules/selected.smk"
include: "rules/report.smk"
include: "rules/annotate.smk"


onerror:
    mark_index_incomplete()


rule all:
    default_target: True
    input:
        all_outputs(),
