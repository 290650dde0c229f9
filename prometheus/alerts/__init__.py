"""Hand-written alert rules (cause alerts) and the renderer that adds each alert's runbook link."""
