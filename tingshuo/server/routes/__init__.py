"""One module per group of endpoints: audio (OpenAI-compatible), info, inspect, stream (WebSocket)."""
