# syntax=docker/dockerfile:1
# One image for the whole stack: every Airflow component of docker-compose.yaml, and the
# standalone producer of the original project:
#
#   docker build -t foot-traffic .
#   docker run --rm -e KAFKA_BROKER=host:9092 foot-traffic foot-traffic produce
#   docker run --rm foot-traffic foot-traffic preview
#   docker run --rm foot-traffic version        # any other command goes to Airflow's entrypoint
#
# The base is the official Apache Airflow image of the version pinned in requirements.txt
# (tests/deploy/test_dockerfile.py checks that they agree).
FROM apache/airflow:3.3.2-python3.11

# The official image runs as `airflow` (uid 50000, gid 0) with AIRFLOW_HOME=/opt/airflow.
# Root only for the small launcher scripts below.
USER root

# `foot-traffic ...` runs the producer; anything else goes to the official entrypoint
# (which runs `airflow <command>`, or bash/python).
COPY <<'EOF' /usr/local/bin/foot-traffic-entrypoint
#!/usr/bin/env bash
if [[ "${1:-}" == "foot-traffic" ]]; then
    shift
    exec foot-traffic "$@"
fi
exec /entrypoint "$@"
EOF

# The producer's command (the engine is on PYTHONPATH, see below).
COPY <<'EOF' /usr/local/bin/foot-traffic
#!/usr/bin/env bash
exec python -m foot_traffic "$@"
EOF

RUN chmod 0755 /usr/local/bin/foot-traffic-entrypoint /usr/local/bin/foot-traffic

USER airflow

# What the project needs on top of the official image, installed the way the Airflow docs
# recommend for extending it: "apache-airflow==${AIRFLOW_VERSION}" (the image's own version,
# set by the official image) in the same pip install, so that pip cannot move Airflow.
# requirements.txt pins exactly only what the image lacks (the Kafka provider and clients,
# matplotlib) and never a package the image pins for Airflow; tests/deploy/test_image_env.py replays
# this line on an environment built like the image and requires `pip check` to pass.
COPY --chown=airflow:0 requirements.txt /opt/airflow/requirements.txt
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r /opt/airflow/requirements.txt

# The project: DAGs and plugins where Airflow looks for them, the engine and the operator
# under include/ on PYTHONPATH, so that they import the same way in the dag-processor, the
# scheduler, the workers, the triggerer and `foot-traffic produce`.
COPY --chown=airflow:0 dags/ /opt/airflow/dags/
COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/
COPY --chown=airflow:0 include/ /opt/airflow/include/

ENV PYTHONPATH=/opt/airflow/include \
    AIRFLOW__CORE__LOAD_EXAMPLES=False

ENTRYPOINT ["/usr/bin/dumb-init", "--", "/usr/local/bin/foot-traffic-entrypoint"]
# Without a command the container is the original producer (KAFKA_BROKER etc. from -e).
CMD ["foot-traffic", "produce"]
