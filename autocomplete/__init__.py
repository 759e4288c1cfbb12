"""Session-aware query autocompletion: ranking runtime and WebSocket server."""
