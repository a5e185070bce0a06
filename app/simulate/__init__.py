"""`nightshift simulate`: the real jobs and webhook handlers on a virtual clock against
simulated providers and leads; see docs/simulation.md and app.simulate.engine."""
