"""Procedural capture-the-flag templates, by category.

Each template (`base.Template`) draws fresh parameters and a fresh flag from a seed (see
`base.ChallengeRNG`), so a model cannot pass by remembering a published answer, and ships a
*reference solution*: a shell script that recovers the flag from the artefacts alone (never
from the generator's parameters), the same script for every seed. The tests run it in the real
sandbox. Web and pwn challenges run a service in the sample's private network, its files
hidden from the agent.
"""

from __future__ import annotations

from clearinghouse.evals.battery.families.ctf_templates import crypto, forensics, pwn, reverse, web
from clearinghouse.evals.battery.families.ctf_templates.base import (
    CATEGORIES,
    DIFFICULTIES,
    Challenge,
    ChallengeRNG,
    Service,
    Template,
    install_files,
    materialize_service,
)

TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in (
        *crypto.TEMPLATES,
        *forensics.TEMPLATES,
        *reverse.TEMPLATES,
        *web.TEMPLATES,
        *pwn.TEMPLATES,
    )
}


def generate(template: str, seed: int) -> Challenge:
    """The challenge for (template, seed): the same inputs always give the same bytes."""
    return TEMPLATES[template](ChallengeRNG(seed, template), seed)


__all__ = [
    "CATEGORIES",
    "DIFFICULTIES",
    "TEMPLATES",
    "Challenge",
    "ChallengeRNG",
    "Service",
    "Template",
    "generate",
    "install_files",
    "materialize_service",
]
