"""The Kafka records of a plan: the JSON contract, headers, one record stream, the door sensor.

Arrows point one way: records -> plan -> model.
"""
