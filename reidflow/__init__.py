"""reidflow: find every distinct person in many videos (library behind the Snakemake workflow).

Each stage can be called from Python, as the workflow's scripts/ do; the entry points below carry an
``Examples:`` block. Importing a module changes nothing outside it (ultralytics is set up by
``runtime.configure_ultralytics`` when reidflow first uses it). Everything else is internal and may change.

Stages, in workflow order, with their settings (``reidflow.settings``, defaults as in config/config.yaml):

===================  ==========================================================  ======================
module               entry points                                                settings
===================  ==========================================================  ======================
``track``            ``export_onnx``, ``build_detector``, ``tracker_params``,    ``TrackSettings``
                     ``track_video``
``crops``            ``extract_crops``                                           ``CropSettings``
``features``         ``extract_features`` (models: ``appearance.load``)           ``FeatureSettings``
``similarity``       ``build_similarity`` (``aggregate``, ``cooccurrence``; cuts  ``SimilaritySettings``
                     at identity switches: ``pieces.find_cuts``, ``swap_cuts``)
``cluster``          ``build_clusters`` (``agglomerate``; evidence:              ``ClusterSettings``
                     ``spacetime``)
``identities``       ``label_detections`` (gaps filled: ``gap_boxes``)             ``IdentitiesSettings``
``evaluate``         ``evaluate_identities``, ``evaluate_people``                ``EvaluateSettings``
                     (``mot_scores``, ``person_ground_truth``)
``people``           ``build_people``                                            ``PeopleSettings``
``report.video``     ``VideoRecords``, ``write_video_report``                    ``ReportSettings``
``report.index``     ``video_summary``, ``write_index``                          (the config's sections)
===================  ==========================================================  ======================

Shared:

- ``formats.<file>``: the reader and writer of every file a stage writes (``read_tracks``,
  ``write_features``, ...; see reidflow.formats);
- ``settings``: every stage's settings class, ``StageSettings.from_config`` (what the scripts call);
- ``backends.choose``: what ``backend``/``device`` ``auto`` mean; ``gpu.job_device``: a GPU of the job's own;
- ``assets``: model weights, fetched and checked by sha256 (``verify_model``, ``fetch``);
- ``sheet.load_videos``, ``overrides.load_overrides``: the video sheet and a person's decisions;
- ``trackers``: the trackers and the ``track.tracker_params`` they take (checked when the workflow is parsed);
- ``ids``: ``locate`` track ids, ``pairs_at_or_above`` a threshold;
- ``pieces``: tracks cut at identity switches, applied by every stage after similarity (``split_rows``,
  ``split_features``; ``piece_crops.PieceCrops`` reads final_crops.h5 by pieces);
- ``ReidflowError``: every error a user can fix; the subclass names the stage (``TrackError``, ...).
"""

__version__ = "0.1.0"


class ReidflowError(Exception):
    """An error a user can fix; its message names the file and the fix, and is shown without a traceback."""
