"""One module per task family; each declares its `TaskSpec`s in `TASKS` (collected by
`battery.registry`)."""
