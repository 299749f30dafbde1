"""Re-identification quality measures shared by the tests of features/appearance and bench/models.py
(a plain helper module, imported by name)."""

import numpy as np


def rank1_and_map(feats: np.ndarray, identities: np.ndarray, frames: np.ndarray) -> tuple[float, float, int]:
    """(rank-1, mAP, queries) of unit features ``feats``: per identity with >= 2 crops, the query is its
    earliest crop (``frames``) and the gallery every other crop."""
    sims = feats @ feats.T
    hits, average_precisions = [], []
    for identity in np.unique(identities):
        members = np.flatnonzero(identities == identity)
        if len(members) < 2:
            continue
        query = members[np.argmin(frames[members])]
        gallery = np.delete(np.arange(len(feats)), query)
        relevant = identities[gallery[np.argsort(-sims[query, gallery], kind="stable")]] == identity
        precision = np.cumsum(relevant) / np.arange(1, len(relevant) + 1)
        hits.append(relevant[0])
        average_precisions.append((precision * relevant).sum() / relevant.sum())
    return float(np.mean(hits)), float(np.mean(average_precisions)), len(hits)
