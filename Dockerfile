# The telco-dw image: the official Airflow image plus the project, installed from uv.lock.
#
#   docker build -t telco-dw:local .          (docker compose builds it as telco-dw:${TELCO_DW_IMAGE_TAG})
#
# One image for every Airflow component (api-server, scheduler, dag-processor, triggerer, Celery
# worker, airflow-init), the source simulators, and the KubernetesExecutor's task pods
# (docs/deploy.md). The Airflow version of the base image must be the one uv.lock pins.
ARG AIRFLOW_IMAGE=apache/airflow:3.3.2-python3.11
FROM ${AIRFLOW_IMAGE}

# The project's own virtual environment, created from uv.lock (not the image's user site): `airflow`,
# `dbt` and `telco-dw` all resolve to it, so the image runs exactly the locked dependency set that
# `make test` runs. uv itself is pinned as in the Makefile.
ENV TELCO_DW_REPO=/opt/telco-dw \
    UV_PROJECT_ENVIRONMENT=/opt/telco-dw/.venv \
    UV_PYTHON_DOWNLOADS=never \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1
ENV PATH=/opt/telco-dw/.venv/bin:${PATH} \
    VIRTUAL_ENV=/opt/telco-dw/.venv

USER root
RUN mkdir -p /opt/telco-dw /opt/airflow/telco-dw /opt/airflow/cosmos \
    && chown -R airflow:0 /opt/telco-dw /opt/airflow/telco-dw /opt/airflow/cosmos \
    && chmod -R g+rwX /opt/telco-dw /opt/airflow/telco-dw /opt/airflow/cosmos
USER airflow
WORKDIR /opt/telco-dw

# Dependencies first (a layer that changes only with the lock file), then the project itself.
COPY --chown=airflow:0 pyproject.toml uv.lock README.md ./
RUN pip install --no-cache-dir uv==0.13.8 \
    && python -m uv sync --frozen --no-dev --no-install-project --python /usr/local/bin/python3.11

COPY --chown=airflow:0 include/ include/
COPY --chown=airflow:0 dags/ dags/
COPY --chown=airflow:0 plugins/ plugins/
COPY --chown=airflow:0 dbt_project/ dbt_project/
COPY --chown=airflow:0 expectations/ expectations/
COPY --chown=airflow:0 deploy/kubernetes/ deploy/kubernetes/
# Editable install: telco_dw finds its checkout (dags/, dbt_project/) at /opt/telco-dw, where
# docker-compose.yml mounts the working copies of those folders over the copies baked in here.
RUN python -m uv sync --frozen --no-dev --python /usr/local/bin/python3.11 \
    && telco-dw --help >/dev/null \
    && airflow version
