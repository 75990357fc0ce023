"""ASGI entry point for uvicorn/gunicorn: `clearinghouse.api.asgi:app`."""

from clearinghouse.api.app import create_app
from clearinghouse.core.config import get_settings
from clearinghouse.core.logging import configure_logging

_settings = get_settings()
configure_logging(_settings.log_level, _settings.log_format)
app = create_app()
