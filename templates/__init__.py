"""Jinja2 templates: email/<kind>/<event>.<part>.<ext> and web/…  (package data only)."""
