"""Pages, forms and WebSocket consumers for people (not API clients)."""
