"""The MCP server (Model Context Protocol) at ``POST /v1/mcp``, built on the official ``mcp`` SDK.

``server`` holds the tools, ``transport`` the authenticated Streamable HTTP endpoint (stateless,
JSON answers), ``caller`` who is calling and ``results`` how answers and failures read to an agent.
"""
