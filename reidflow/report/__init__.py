"""Stage 6, ``report``: who is in each video, at a glance, as a self-contained offline HTML page.

Per video ``report/index.html`` shows the run's settings, one card per identity with its member tracks as
animated WebPs of their crops (time order), the track × track similarity heatmap ordered by identity, the
distribution of similarities, the merge recommendations and, with ground truth, the MOT scores before and
after merging. ``report/webp/`` holds ``<track>.webp`` (the animation) and ``<track>_best.webp`` (the
best-quality crop, used as a thumbnail). The across-videos page lists every video with a link to its page
and shows every person of ``results/people/people.json`` by those same WebPs, with the look-alike people to
check; person ids appear there only (a video's page does not read people.json).

Everything is inline (CSS, JS, SVG): the pages work opened from file:// with no network. Templates are
jinja2 with autoescaping, so names from the video sheet or file paths are always shown as text.

==================  ===========================================================================================
module              holds
==================  ===========================================================================================
``report.video``    one video's page: its context (``video_context``) and ``write_video_report``
``report.index``    the page across videos and people (``write_index``); after a failed run ``write_incomplete_index``
``report.images``   the WebPs of a track (``ReportSettings``: their frame rate, quality and height)
``report.heatmap``  the similarity heatmap, its colour scale, the histogram and its markers
``report.metrics``  what both pages show: video durations, MOT scores before and after merging
``report.render``   the jinja2 environment of ``templates/``
==================  ===========================================================================================

Functions are pure (records in, bytes or strings out) except ``write_video_report``, ``write_index`` and
``write_incomplete_index``, which write the files.

This package imports none of its modules: each script imports the ones it uses, and its rule declares
exactly those as inputs (rules/report.smk), so editing the index page reruns only rule ``report_index``.
"""
