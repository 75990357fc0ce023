"""Compatibility only: installs made before the sandbox moved to `clearinghouse.sandbox` name this
module in their `inspect_ai` entry point. pyproject.toml now names
`clearinghouse.sandbox.inspect_plugin`; delete this module once every install has been refreshed
(`pip install -e .`)."""

from clearinghouse.sandbox.inspect_plugin import BwrapSandboxEnvironment

__all__ = ["BwrapSandboxEnvironment"]
