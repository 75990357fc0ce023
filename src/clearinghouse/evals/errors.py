from clearinghouse.core.errors import Conflict, InvalidInput


class UnknownTask(InvalidInput):
    default_code = "eval_task_unknown"


class RunNotRunnable(Conflict):
    default_code = "eval_run_not_runnable"
