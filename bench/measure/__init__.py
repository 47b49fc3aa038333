"""Measurement passes. Each owns its window: latency, memory, energy and accuracy never overlap."""
