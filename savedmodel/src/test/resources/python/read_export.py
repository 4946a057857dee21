"""Loads a fisheropt SavedModel with Python TensorFlow, the way a Python user would, and reports
what it finds as JSON: the `serve` predictions for the given inputs and every checkpoint value.

Usage: read_export.py EXPORT_DIR REQUEST_JSON RESULT_JSON
REQUEST_JSON: {"inputs": {name: {"shape": [...], "values": [...]}}}  (float32 inputs)
"""
import json
import sys

import numpy as np
import tensorflow as tf


def main(export_dir, request_path, result_path):
    with open(request_path) as f:
        request = json.load(f)
    loaded = tf.saved_model.load(export_dir, tags=["serve"])
    serve = loaded.signatures["serve"]
    inputs = {
        name: tf.constant(np.asarray(spec["values"], dtype=np.float32).reshape(spec["shape"]))
        for name, spec in request["inputs"].items()
    }
    predictions = {name: t.numpy().ravel().tolist() for name, t in serve(**inputs).items()}

    reader = tf.train.load_checkpoint(export_dir + "/variables/variables")
    dtypes = reader.get_variable_to_dtype_map()
    checkpoint = {}
    for name in sorted(reader.get_variable_to_shape_map()):
        value = np.asarray(reader.get_tensor(name))
        checkpoint[name] = {"dtype": dtypes[name].name, "values": value.ravel().tolist()}

    with open(result_path, "w") as f:
        json.dump({
            "tensorflow": tf.__version__,
            "signatures": sorted(loaded.signatures.keys()),
            "predictions": predictions,
            "checkpoint": checkpoint,
        }, f)


if __name__ == "__main__":
    main(*sys.argv[1:4])
