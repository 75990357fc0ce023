"""Evals: the benchmark battery on Inspect AI (`battery/`), runs against submissions and
reference models (`runs/`, `reference`, `models`, `schemas`, `tasks`), what the scores mean
(`analysis/`), and the stand-in lab model (`localmodel`)."""
