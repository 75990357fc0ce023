"""The errors of the evals domain, each with its stable code."""

from clearinghouse.core.errors import Conflict, InvalidInput


class UnknownTask(InvalidInput):
    default_code = "eval_task_unknown"


class RunNotRunnable(Conflict):
    default_code = "eval_run_not_runnable"


class RawModelRefused(InvalidInput):
    """A run named a model spec or URL instead of a submission or registered reference model."""

    default_code = "raw_model_refused"


class ReferenceModelRefused(InvalidInput):
    default_code = "reference_model_invalid"


class ReferenceModelExists(Conflict):
    default_code = "reference_model_exists"
