"""tfx-autofit: AutoML for computer vision as TFX pipeline components."""

from setuptools import find_packages, setup

setup(
    name="tfx-autofit",
    version="0.1.0",
    description="AutoML for computer-vision models as TFX pipeline components.",
    python_requires=">=3.10,<3.11",
    packages=find_packages(include=["augment_ops", "augment_ops.*", "components", "components.*", "pipelines", "pipelines.*"]),
    install_requires=[
        "tfx==1.16.0",
        "kfp==2.5.0",
        "tensorflow-transform",  # components/transform (pinned in constraints.txt; also a TFX dependency)
        "keras-hub",  # detection: RetinaNet (pinned in constraints.txt)
        "dill",
        "jinja2",  # The run report's HTML template (pipelines/report).
        "matplotlib",
        "pillow",
        "pycocotools",
        "pyyaml",
        "scikit-learn",
        "scipy",
        "tqdm",  # Progress bars with ETA (components/common/progress.py); pinned in constraints.txt.
        "onnxruntime",  # Export: ONNX parity checks.
        "tf2onnx",  # Export: Keras/SavedModel -> ONNX.
    ],
    entry_points={"console_scripts": ["autofit=pipelines.cli:main"]},
)
