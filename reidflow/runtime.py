"""Glue for the thin Snakemake scripts (logging into the rule's log file, clear errors), and the one place
where reidflow changes process-wide state for a third-party library.

Library modules do nothing when imported. ``configure_ultralytics`` is called by ``run`` before every
script's ``main`` and, for callers from Python, by each function of reidflow.track before it imports
ultralytics.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Callable

from reidflow import ReidflowError


def configure_ultralytics() -> None:
    """Environment that ultralytics reads when it is first imported; harmless to call again.

    It must never download or pip-install anything at run time, and must unpickle weights only through
    torch's ``weights_only`` loader with its allow-list of model classes: a full unpickle of a ``.pt``
    file runs whatever code the file names (``reidflow.track.require_safe_load`` checks that it took).
    """
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_AUTOINSTALL"] = "false"
    os.environ["ULTRALYTICS_SAFE_LOAD"] = "1"
    os.environ.setdefault("YOLO_VERBOSE", "false")


def run(snakemake, main: Callable[[object], None]) -> None:
    """Run ``main(snakemake)`` with logging to the rule's log (and stderr).

    A ``ReidflowError`` ends the job with its one-line message (it names the file and the fix) instead
    of a traceback; any other exception keeps its traceback in the log.
    """
    configure_ultralytics()  # before main can import it
    # A job killed by Snakemake or SLURM exits through Python, so temporary outputs get removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if snakemake.log:
        handlers.append(logging.FileHandler(snakemake.log[0], mode="w"))
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", handlers=handlers, force=True
    )
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
