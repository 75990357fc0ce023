"""Procedural capture-the-flag challenges: the names `families/ctf.py` and the tests import.

The templates live in `ctf_templates/` (one module per category, `base.py` for what they
share); this module keeps the names their callers already use.
"""

from __future__ import annotations

from clearinghouse.evals.battery.families.ctf_templates import TEMPLATES as TEMPLATES
from clearinghouse.evals.battery.families.ctf_templates import Challenge as Challenge
from clearinghouse.evals.battery.families.ctf_templates import Service as Service
from clearinghouse.evals.battery.families.ctf_templates import generate as generate
from clearinghouse.evals.battery.families.ctf_templates import install_files as install_files
from clearinghouse.evals.battery.families.ctf_templates import (
    materialize_service as materialize_service,
)
