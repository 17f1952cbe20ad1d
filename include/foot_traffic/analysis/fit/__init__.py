"""Fit a store profile from its own door counts (``foot-traffic fit``)."""
