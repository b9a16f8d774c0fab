"""Enterprise plan features: a dedicated MCP endpoint per project and SLA thresholds."""
