"""Export: SavedModel, TFLite (float, full-integer int8) and ONNX, each checked against the Keras model."""
