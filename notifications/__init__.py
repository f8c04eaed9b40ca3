"""Rendering, the outbox and transports. Never imports workflow/."""
