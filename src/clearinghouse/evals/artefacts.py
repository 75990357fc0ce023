"""Transitional: reviews' retention (reviews/services.py `purge_submission`) imports the purge
from here. The artefacts live in `evals/runs/artefacts.py`; delete this module once reviews
imports `clearinghouse.evals.runs.artefacts` (issue 10 merge: reviews is being split meanwhile)."""

from clearinghouse.evals.runs.artefacts import purge_submission

__all__ = ["purge_submission"]
