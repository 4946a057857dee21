"""Resumes training of a fisheropt SavedModel whose graph runs the fisheropt op library's ops
(`polar(Polar.FUSED)`) with Python TensorFlow, the way a Python user would, and reports what it
finds as JSON: the loss of each `train` step, the `serve` predictions after them, the signatures of
each meta graph, and the given variables as saved in a new export of the resumed state (NEW_EXPORT:
the same saved_model.pb, with a checkpoint the export's own saver op writes).

Usage: resume_export.py EXPORT_DIR LIBRARY REQUEST_JSON RESULT_JSON NEW_EXPORT
LIBRARY: libfisheropt_ops.so, as the fisheropt-ops jar ships it
REQUEST_JSON: {"batches": [{name: {"dtype": ..., "shape": [...], "values": [...]}}, ...],
               "serve": {name: {...}}, "variables": [name, ...]}
"""
import json
import os
import shutil
import sys

import numpy as np
import tensorflow as tf


def tensors(specs):
    return {name: tf.constant(np.asarray(spec["values"], dtype=spec["dtype"]).reshape(spec["shape"]))
            for name, spec in specs.items()}


def saver_def(export_dir, tag):
    """The SaverDef of the meta graph tagged `tag`: the names of the save and restore ops."""
    from tensorflow.core.protobuf import saved_model_pb2
    model = saved_model_pb2.SavedModel()
    with open(os.path.join(export_dir, "saved_model.pb"), "rb") as f:
        model.ParseFromString(f.read())
    return next(m.saver_def for m in model.meta_graphs if list(m.meta_info_def.tags) == [tag])


def tensor_name(name):
    return name if ":" in name else name + ":0"


def main(export_dir, library, request_path, result_path, new_export):
    with open(request_path) as f:
        request = json.load(f)

    # Without the library, only the "serve" meta graph loads.
    serving = tf.saved_model.load(export_dir, tags=["serve"])
    serve_signatures = sorted(serving.signatures.keys())

    tf.load_op_library(library)
    model = tf.saved_model.load(export_dir, tags=["train"])
    train = model.signatures["train"]
    losses = [float(train(**tensors(batch))["loss"].numpy()) for batch in request["batches"]]
    predictions = {name: t.numpy().ravel().tolist()
                   for name, t in model.signatures["serve"](**tensors(request["serve"])).items()}

    # A new export of the resumed state: the same graphs, the variables saved by the export's saver.
    saver = saver_def(export_dir, "train")
    save = model.prune(feeds=[tensor_name(saver.filename_tensor_name)], fetches=[tensor_name(saver.save_tensor_name)])
    os.makedirs(os.path.join(new_export, "variables"))
    shutil.copy(os.path.join(export_dir, "saved_model.pb"), new_export)
    save(tf.constant(os.path.join(new_export, "variables", "variables")))
    reader = tf.train.load_checkpoint(os.path.join(new_export, "variables", "variables"))
    variables = {name: np.asarray(reader.get_tensor(name)).ravel().tolist() for name in request["variables"]}

    with open(result_path, "w") as f:
        json.dump({
            "tensorflow": tf.__version__,
            "serve_signatures": serve_signatures,
            "train_signatures": sorted(model.signatures.keys()),
            "losses": losses,
            "predictions": predictions,
            "variables": variables,
        }, f)


if __name__ == "__main__":
    main(*sys.argv[1:6])
