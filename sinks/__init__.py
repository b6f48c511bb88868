"""Where findings go: console, JSON-lines alert log, Sentry (through a local outbox)."""
