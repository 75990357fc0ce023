"""Validation by reproduction: a report's recipe (`recipe.toml`, docs/validation.md) is built and
its proof of concept run in the bubblewrap sandbox, on the vulnerable build and on the fixed
build, and the outcome is a verdict with its evidence.

`recipe` (the format), `sources` (directories, archives and released packages, in a
content-addressed cache), `fixed` (the fixed version from an OSV record's ranges), `expect` (what
the PoC must show), `runner` (build once, run twice, decide), `schemas` (the result), `errors`.
"""
