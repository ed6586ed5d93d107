"""ACP agent mode: `cursor-bridge acp` serves editors over the Agent Client Protocol."""
