"""Every file format reidflow writes or reads: one module per format, with its records, reader and writer.

Stages never open these files by hand: they call the readers and writers of these modules. Each module's
docstring gives its file's layout, field by field.

==================  ==============  =======================  ============================================
file                written by      module                   holds
==================  ==============  =======================  ============================================
tracks.npz          track           ``formats.tracks``       one row per tracked detection, video metadata
tracks.txt          track (and gt)  ``formats.mot``          the same rows as MOTChallenge text
final_crops.h5      crops           ``formats.crops``        kept crops per track, their metrics (Blosc)
features.h5         features        ``formats.features``     one unit feature per crop
similarity.json     similarity      ``formats.similarity``   track x track similarity, co-occurrence, cuts
clusters.json       cluster         ``formats.clusters``     identities, merges, recommendations, cuts
evaluation.json     evaluate        ``formats.evaluation``   MOT scores before and after merging
==================  ==============  =======================  ============================================

``formats.base`` holds what they share: FormatError, the REBUILD hint and the JSON record codec; the
atomic writing of every file is ``reidflow.files``.

This package imports none of its modules: a stage loads only the formats it reads and writes, and its rule
declares only those as inputs, so editing one codec reruns only the stages that use it.
"""
