"""Loaded by Inspect through the `inspect_ai` entry point: registers the `bwrap` sandbox."""

from clearinghouse.evals.inspect_sandbox import BwrapSandboxEnvironment

__all__ = ["BwrapSandboxEnvironment"]
