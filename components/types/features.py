"""Feature keys of the canonical tf.train.Example form (DESIGN.md section 4).

Every reader and writer in the suite imports its keys from here, so a key
is spelled exactly once.
"""

IMAGE_ENCODED = "image/encoded"
IMAGE_HEIGHT = "image/height"
IMAGE_WIDTH = "image/width"
IMAGE_CHANNELS = "image/channels"
IMAGE_SOURCE_ID = "image/source_id"

LABEL = "label"
LABELS = "labels"

BOXES_YMIN = "bounding_boxes/ymin"
BOXES_XMIN = "bounding_boxes/xmin"
BOXES_YMAX = "bounding_boxes/ymax"
BOXES_XMAX = "bounding_boxes/xmax"
BOXES_LABEL = "bounding_boxes/label"
BOX_COORDINATE_KEYS = (BOXES_YMIN, BOXES_XMIN, BOXES_YMAX, BOXES_XMAX)

MASK_ENCODED = "mask/encoded"

# Provenance of examples the suite itself makes (pseudo-labels, synthesis).
PROVENANCE = "provenance"
PROVENANCE_MODEL = "provenance/model"
PROVENANCE_CONFIDENCE = "provenance/confidence"
# Soft pseudo-labels (a teacher's class probabilities) beside the hard `label`.
PSEUDO_PROBABILITIES = "pseudo_label/probabilities"

TRAIN_SPLIT = "train"
EVAL_SPLIT = "eval"
TEST_SPLIT = "test"
UNLABELED_SPLIT = "unlabeled"
ALL_SPLITS = (TRAIN_SPLIT, EVAL_SPLIT, TEST_SPLIT, UNLABELED_SPLIT)

TASK_CLASSIFICATION = "classification"
TASK_MULTILABEL = "multilabel"
TASK_DETECTION = "detection"
TASK_SEGMENTATION = "segmentation"
TASKS = (TASK_CLASSIFICATION, TASK_MULTILABEL, TASK_DETECTION, TASK_SEGMENTATION)

# Value written into a mask where the pixel's class is unknown (occlusion).
MASK_IGNORE_VALUE = 255
