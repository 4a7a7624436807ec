"""LocalDagRunner: DataTranslation -> ImageTransform -> Training(transform_graph); the SavedModel serves raw bytes."""

import os

import numpy as np
import pytest


@pytest.mark.slow
def test_transform_then_training_in_a_local_pipeline(tmp_path):
    import tensorflow as tf

    from components.common import model_io
    from components.training.component import Training
    from components.transform.component import ImageTransform
    from pipelines import lineage as lineage_lib
    from pipelines.config import config_from_dict
    from pipelines.pipeline import create_components, create_pipeline
    from pipelines.runners import run_pipeline
    from tests.support.canonical import write_image_folder

    data = write_image_folder(str(tmp_path / "data"), per_class=8)
    config = config_from_dict({
        "pipeline_name": "transform", "run_dir": str(tmp_path / "run"),
        "data": {"format": "image_folder", "path": data, "eval_fraction": 0.25},
    })
    translation = create_components(config)[0]
    examples, data_spec = translation.outputs["examples"], translation.outputs["data_spec"]
    transform = ImageTransform(examples=examples, data_spec=data_spec, config={"normalize": "per_channel"})
    training = Training(examples=examples, data_spec=data_spec, transform_graph=transform.outputs["transform_graph"],
                        config={"architecture": "tiny_cnn", "epochs": 1, "batch_size": 8, "verbose": 0})
    run_pipeline(config, pipeline=create_pipeline(config, components=[translation, transform, training]))

    lineage = lineage_lib.read_lineage(config.run_dir)
    assert [(node.component, node.state) for node in lineage.executions] == [
        ("DataTranslation", "COMPLETE"), ("ImageTransform", "COMPLETE"), ("Training", "COMPLETE"),
    ]
    model_dirs = sorted(tf.io.gfile.glob(os.path.join(config.pipeline_root, "Training", "model", "*")))
    serving = tf.saved_model.load(model_io.serving_path(model_dirs[-1]))
    png = tf.io.encode_png(np.full((12, 12, 1), 200, np.uint8))
    probabilities = serving.serve_image_bytes(tf.reshape(png, [1]))["probabilities"].numpy()
    assert probabilities.shape == (1, 3) and abs(float(probabilities.sum()) - 1.0) < 1e-5
