"""Airflow front door of the foot-traffic producer: the operator and the Kafka connection mapping.

The engine (``foot_traffic``) never imports Airflow; this package does, and the DAG in
``dags/`` imports only this package's operator.
"""

from foot_traffic_airflow.operators import FootTrafficProducerOperator

__all__ = ["FootTrafficProducerOperator"]
