# syntax=docker/dockerfile:1
# One image for every tfx-autofit component (the KubeflowV2DagRunner default_image) and for
# the in-cluster Beam run (kubernetes/). GPU-ready by default: TensorFlow 2.16's `and-cuda`
# extra pins the CUDA 12.3 / cuDNN 8.9 wheels it was built against, so the base needs only
# Python 3.10 (TFX 1.16 supports no newer Python) and the node supplies the NVIDIA driver.
# CPU variant for small clusters: --build-arg TF_PACKAGE=tensorflow (see `make image-cpu`).
#
# Base pinned by tag and digest; re-pin with `docker buildx imagetools inspect python:3.10.16-slim-bookworm`.
ARG PYTHON_IMAGE=python:3.10.16-slim-bookworm@sha256:f9fd9a142c9e3bc54d906053b756eb7e7e386ee1cf784d82c251cf640c502512

FROM ${PYTHON_IMAGE} AS build
ARG TF_PACKAGE="tensorflow[and-cuda]"
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
# A few pinned dependencies (pyfarmhash, rouge-score, kfp) ship only as sources.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential=12.9 \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY constraints.txt setup.py ./
# Dependencies first, cached until setup.py or constraints.txt change: with no package
# sources copied yet, installing "." installs only the pinned requirements.
RUN pip install --no-cache-dir pip==24.2 \
 && pip install --no-cache-dir -c constraints.txt . "${TF_PACKAGE}"
COPY augment_ops/ augment_ops/
COPY components/ components/
COPY pipelines/ pipelines/
RUN pip install --no-cache-dir --no-deps --force-reinstall -c constraints.txt . \
 && python -c "import tfx.v1, tensorflow, kfp, pipelines.config"

FROM ${PYTHON_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="tfx-autofit" \
      org.opencontainers.image.description="tfx-autofit pipeline components (TFX 1.16, TensorFlow 2.16)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
RUN groupadd --system --gid 10001 autofit \
 && useradd --system --uid 10001 --gid autofit --home-dir /home/autofit --create-home \
      --shell /usr/sbin/nologin autofit
COPY --from=build /opt/venv /opt/venv
# TF 2.16 does not find the pip CUDA libraries by itself (tensorflow/tensorflow#63362);
# /usr/local/nvidia/lib64 is where GKE mounts the driver. Missing directories are harmless on CPU.
ENV NVIDIA_LIBS=/opt/venv/lib/python3.10/site-packages/nvidia
ENV PATH=/opt/venv/bin:${NVIDIA_LIBS}/cuda_nvcc/bin:$PATH \
    LD_LIBRARY_PATH=${NVIDIA_LIBS}/cublas/lib:${NVIDIA_LIBS}/cuda_cupti/lib:${NVIDIA_LIBS}/cuda_nvrtc/lib:${NVIDIA_LIBS}/cuda_runtime/lib:${NVIDIA_LIBS}/cudnn/lib:${NVIDIA_LIBS}/cufft/lib:${NVIDIA_LIBS}/curand/lib:${NVIDIA_LIBS}/cusolver/lib:${NVIDIA_LIBS}/cusparse/lib:${NVIDIA_LIBS}/nccl/lib:${NVIDIA_LIBS}/nvjitlink/lib:/usr/local/nvidia/lib64 \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    HOME=/home/autofit \
    MPLCONFIGDIR=/tmp/matplotlib
WORKDIR /home/autofit
USER 10001:10001
CMD ["autofit", "--help"]
