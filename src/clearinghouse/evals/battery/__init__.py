"""The benchmark battery: what a task is (`framework`), the task families (`families/`), their
data (`data/`), the agent scaffold (`agent`) and the registry that collects them (`registry`)."""
