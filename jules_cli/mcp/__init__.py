"""The MCP front-end (`jules mcp serve`); needs the `mcp` extra: pip install 'julesctl[mcp]'."""
