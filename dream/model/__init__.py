"""The analytical model on the long tables (DOMAIN.md §4.2-4.3): dimensions, the week fact, transitions
52 weeks on and the key figures."""
