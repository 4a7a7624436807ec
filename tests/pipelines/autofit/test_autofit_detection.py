"""`autofit run` on a COCO detection set: the searched policy and box prior are a candidate, selected by mAP."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from pipelines import lineage as lineage_lib
from pipelines.autofit import run as autofit_run
from pipelines.config import config_from_dict
from tests.support.shapes import shape_detection_set

# A search, two detector trainings and their selection: minutes on a CPU.
pytestmark = pytest.mark.slow
SIZE = 48


def write_coco_shapes(root, per_shape: int = 36) -> dict:
    """Discs (category "disc") and squares ("square") as PNGs with a COCO annotations file."""
    os.makedirs(os.path.join(root, "images"))
    images, annotations = [], []
    categories = [{"id": 1, "name": "disc"}, {"id": 2, "name": "square"}]
    for category, shape in ((1, "disc"), (2, "square")):
        pixels, boxes, labels = shape_detection_set(per_shape, shape, size=SIZE, seed=category)
        for index in range(per_shape):
            image_id = len(images) + 1
            name = f"{shape}_{index}.png"
            Image.fromarray((pixels[index] * 255).round().astype(np.uint8)).save(os.path.join(root, "images", name))
            images.append({"id": image_id, "file_name": name, "height": SIZE, "width": SIZE})
            for box in boxes[index][labels[index] >= 0] * SIZE:
                ymin, xmin, ymax, xmax = box.tolist()
                annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": category,
                                    "bbox": [xmin, ymin, xmax - xmin, ymax - ymin], "area": (xmax - xmin) * (ymax - ymin),
                                    "iscrowd": 0})
    path = os.path.join(root, "annotations.json")
    with open(path, "w") as handle:
        json.dump({"images": images, "annotations": annotations, "categories": categories}, handle)
    return {"images": os.path.join(root, "images"), "annotations": path}


def test_autofit_plans_the_detection_search_as_a_candidate_and_selects_by_map(tmp_path):
    paths = write_coco_shapes(str(tmp_path / "coco"))
    config = config_from_dict({
        "pipeline_name": "tiny-detection", "run_dir": str(tmp_path / "run"), "budget": "standard",
        "data": {"format": "coco", "path": paths["images"], "annotations": paths["annotations"], "task": "detection",
                 "eval_fraction": 0.3},
        "training": {"epochs": 3, "batch_size": 8, "verbose": 0},
    })
    lines = []
    summary = autofit_run.run(config, echo=lines.append)
    assert any("augmentation_search" in line and "COCO mAP" in line for line in lines)
    selection = summary["selection"]
    assert selection["metric"] == "map"
    assert [c["name"] for c in selection["candidates"]] == ["Training", "TrainingAugmented"]
    decision = selection["decisions"][0]
    assert decision["against"] == "Training" and decision["interval"][0] <= decision["interval"][1]
    assert all(0.0 <= c["metric"] <= 1.0 for c in selection["candidates"])
    graph = lineage_lib.read_lineage(config.run_dir)
    champion = lineage_lib.find_output(graph, "ChampionSelection", "model")
    assert champion.properties["champion"] == summary["champion"] == selection["champion"]
    assert "map_50" in summary["evaluation"]["metrics"]
    # The champion's recipe is rerun on train + eval (no test split: Evaluation scored the recipe before refit).
    assert summary["refit"]["refit"] and "train + eval" in summary["refit"]["refit_reason"]
    refitted = lineage_lib.find_output(graph, "Refit", "model")
    assert os.path.exists(os.path.join(refitted.uri, "task_model.json"))
    assert any(line.startswith("held-out") and "map" in line for line in lines)
    assert any(line.startswith("[data] tiny eval split") and "mAP / IoU" in line for line in lines)
