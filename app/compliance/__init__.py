"""The compliance gate: permitted hours (federal and state, every candidate zone), attempt caps
and opt-outs. One home that campaigns, appointments and the simulator's audit all import."""
