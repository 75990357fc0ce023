"""The command-line shell (Typer). Commands parse, call a service, and print."""
