"""reidflow: find every distinct person in many videos (library behind the Snakemake workflow)."""

__version__ = "0.1.0"


class ReidflowError(Exception):
    """An error a user can fix; its message names the file and the fix, and is shown without a traceback."""
