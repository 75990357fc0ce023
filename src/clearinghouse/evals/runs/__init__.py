"""Eval runs: a battery of tasks against one model (a submission or a registered reference
model), queued as a durable job (`services`), executed with Inspect's eval-set inside the worker
(`execution`), scored, tiered and reported (`results`), with its logs sealed (`artefacts`) and
its models built without the worker's own credentials (`modelaccess`)."""
