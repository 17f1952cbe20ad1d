#!/usr/bin/env bash
# Stand-in for the official apache/airflow image's /entrypoint, for running docker-compose.yaml
# natively (tests/deploy/test_compose_native.py). It does what the compose file relies on, as
# the image's entrypoint documentation describes it
# (https://airflow.apache.org/docs/docker-stack/entrypoint.html):
#   - waits until `airflow db check` passes (CONNECTION_CHECK_MAX_COUNT tries, default 20,
#     CONNECTION_CHECK_SLEEP_TIME s apart, default 3; 0 tries skips the wait);
#   - _AIRFLOW_DB_MIGRATE set: `airflow db migrate` (its failure does not stop the entrypoint);
#   - _AIRFLOW_WWW_USER_CREATE set: `airflow users create` with _AIRFLOW_WWW_USER_USERNAME
#     (default admin), _AIRFLOW_WWW_USER_PASSWORD (required), role _AIRFLOW_WWW_USER_ROLE
#     (default Admin) (its failure does not stop the entrypoint either);
#   - then `bash ...` / `python ...` run as such, and anything else as `airflow ...` (a leading
#     `airflow` word is dropped: `airflow version` and `version` are the same).
# Not reproduced: the check of the Celery broker's port before `scheduler`/`celery`, the
# LD_PRELOAD work-around, _PIP_ADDITIONAL_REQUIREMENTS, uid/gid checks (users are a Docker
# matter: validated statically).
set -euo pipefail

tries="${CONNECTION_CHECK_MAX_COUNT:-20}"
pause="${CONNECTION_CHECK_SLEEP_TIME:-3}"
if (( tries > 0 )); then
    until airflow db check > /dev/null 2>&1; do
        tries=$((tries - 1))
        if (( tries <= 0 )); then
            echo "entrypoint: the metadata database is not reachable:" >&2
            airflow db check >&2
            exit 1
        fi
        sleep "${pause}"
    done
fi

if [[ -n "${_AIRFLOW_DB_MIGRATE:-}" ]]; then
    airflow db migrate || true
fi

if [[ -n "${_AIRFLOW_WWW_USER_CREATE:-}" ]]; then
    password="${_AIRFLOW_WWW_USER_PASSWORD:-}"
    unset _AIRFLOW_WWW_USER_PASSWORD
    if [[ -z "${password}" ]]; then
        echo "entrypoint: _AIRFLOW_WWW_USER_PASSWORD is not set" >&2
        exit 1
    fi
    airflow users create \
        --username "${_AIRFLOW_WWW_USER_USERNAME:-admin}" \
        --firstname "${_AIRFLOW_WWW_USER_FIRSTNAME:-Airflow}" \
        --lastname "${_AIRFLOW_WWW_USER_LASTNAME:-Admin}" \
        --email "${_AIRFLOW_WWW_USER_EMAIL:-airflowadmin@example.com}" \
        --role "${_AIRFLOW_WWW_USER_ROLE:-Admin}" \
        --password "${password}" || true
fi

case "${1:-}" in
    bash | python)
        command="$1"
        shift
        exec "${command}" "$@"
        ;;
    airflow)
        shift
        ;;
esac
exec airflow "$@"
