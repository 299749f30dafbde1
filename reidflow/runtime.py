"""Glue for the thin Snakemake scripts: logging into the rule's log file, clear errors, thread limits."""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Callable

from reidflow import ReidflowError


def run(snakemake, main: Callable[[object], None]) -> None:
    """Run ``main(snakemake)`` with logging to the rule's log (and stderr).

    A ``ReidflowError`` ends the job with its one-line message (it names the file and the fix) instead
    of a traceback; any other exception keeps its traceback in the log.
    """
    # A job killed by Snakemake or SLURM exits through Python, so temporary outputs get removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if snakemake.log:
        handlers.append(logging.FileHandler(snakemake.log[0], mode="w"))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", handlers=handlers, force=True)
    logger = logging.getLogger("reidflow")
    rule = getattr(snakemake, "rule", "?")
    logger.info("rule %s, wildcards %s, threads %s", rule, dict(snakemake.wildcards.items()), snakemake.threads)
    try:
        main(snakemake)
    except ReidflowError as err:
        logger.error("%s", err)
        sys.exit(1)
    except Exception:
        logger.exception("rule %s failed", rule)
        sys.exit(1)
