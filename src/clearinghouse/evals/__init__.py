"""Evals: the benchmark battery on Inspect AI (`battery/`), runs against submissions and
reference models (`services`, `tasks`, `models`, `schemas`, `reference`, `modelaccess`,
`artefacts`), and what the scores mean (`analysis/`)."""
