"""One module per task family; each registers its tasks in `framework.TASKS`."""
