"""Foot-traffic simulation engine: profile, plan, events, pacing, publisher, runner.

Pure Python with kafka-python for delivery; nothing here imports Airflow.
"""

__version__ = "1.0.0"
