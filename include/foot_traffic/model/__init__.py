"""The traffic model: profiles (seed slots, curves), dwell, parties, intensity, arrivals, calibration.

Depends on nothing else of the engine: the plan, the records and the runner build on it.
"""
