"""AI Cyber Clearinghouse.

Importing the package has no side effects; the composition roots are
`clearinghouse.api.app.create_app` and `clearinghouse.cli.main`.
"""

__version__ = "0.1.0"
