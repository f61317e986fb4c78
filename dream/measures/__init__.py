"""Jobindsats-style measures per municipality and month (DOMAIN.md §4.4): benefit duration, passive share,
public support, progression after an activation starts, and the share of a long window spent on benefits.
Each module holds one measure and states its definition next to the code that computes it."""
