"""What a run plays: the store catalogue (the implicit one-store day is a catalogue of one),
local days, seeds, and one plan per store and local day with its visits.

Arrows point one way: plan -> model.
"""
