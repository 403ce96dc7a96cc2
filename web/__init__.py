"""The web layer: a Starlette app over the archive's public API (`create_app(settings)` in `web.app`)."""
