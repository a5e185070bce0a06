"""The AI agents (Sarah, John) as code: definitions in agents/, rendering to Vapi's API,
push plans, diff and rollback (docs/agents.md)."""
