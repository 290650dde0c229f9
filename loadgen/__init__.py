"""The load generator: open-loop traffic, the fault scenario catalog, the demo console and the drill."""
