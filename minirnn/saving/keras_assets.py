"""The state Keras 3 keeps outside a layer's numbered variables: a TextVectorization's learned
vocabulary and idf weights.

Keras writes a vocabulary it learned (by adapt, or set_vocabulary) to the .keras zip as
`assets/<layer path>/vocabulary.txt`, one token a line, special tokens first, and again below
`<layer path>/_lookup_layer/` for the StringLookup inside the layer; in "tf_idf" mode the idf
weights go to model.weights.h5 as the dataset `idf_weights` of both groups (`<layer
path>/vars`, `<layer path>/_lookup_layer/vars`), padded with zeros to max_tokens under
pad_to_max_tokens. A vocabulary passed as the `vocabulary` argument stays in the config instead.
minirnn keeps the vocabulary and the idf weights in the layer itself (and in its config): writing
takes them from the layer, reading puts them into the config the layer is built from.
"""
import numpy as np

__all__ = ["assets_to_write", "named_arrays", "fill_vocabularies"]

_HOLDER = "TextVectorization"
_LOOKUP = "_lookup_layer"
_VOCABULARY_FILE = "vocabulary.txt"
_IDF = "idf_weights"


def _holders(layers_by_path):
    return [(path, layer) for path, layer in sorted(layers_by_path.items())
            if type(layer).__name__ == _HOLDER and type(layer).__module__.startswith("minirnn.")]


def _idf_to_write(config):
    if config["output_mode"] != "tf_idf" or config["idf_weights"] is None:
        return None
    idf = np.asarray(config["idf_weights"], dtype=np.float32)
    if config["pad_to_max_tokens"] and config["max_tokens"] is not None:
        idf = np.concatenate([idf, np.zeros(config["max_tokens"] - len(idf), np.float32)])
    return idf


def assets_to_write(layers_by_path):
    """{zip member: bytes} of the assets Keras would write for these layers ({group path:
    layer}, as h5_weights.layer_paths gives them)."""
    members = {}
    for path, layer in _holders(layers_by_path):
        if layer.get_config()["has_input_vocabulary"]:
            continue  # the config holds it, as Keras's does
        text = "\n".join(layer.get_vocabulary()).encode("utf-8")
        for where in (path, f"{path}/{_LOOKUP}"):
            members[f"assets/{where}/{_VOCABULARY_FILE}"] = text
    return members


def named_arrays(layers_by_path):
    """{h5 group path: {key: array}}: the variables Keras saves by name for these layers."""
    named = {}
    for path, layer in _holders(layers_by_path):
        idf = _idf_to_write(layer.get_config())
        if idf is not None:
            for where in (path, f"{path}/{_LOOKUP}"):
                named[f"{where}/vars"] = {_IDF: idf}
    return named


def fill_vocabularies(specs_by_path, read_member, named, error):
    """Put into each TextVectorization spec ({group path: layer spec} of minirnn's config read
    from a Keras file) whose config holds no vocabulary the one in the file's assets, and its
    idf weights, so that the layer is built with them (a tf_idf layer cannot be called without).

    read_member(name) -> bytes, or None when the zip lacks that member; named: the weights
    file's datasets saved by name ({group path: {key: array}}); error(message) -> an exception
    naming the file."""
    for path, spec in sorted(specs_by_path.items()):
        config = spec.get("config") or {}
        if spec.get("class_name") != _HOLDER or config.get("vocabulary") is not None \
                or config.get("has_input_vocabulary"):
            continue
        name = config.get("name")
        member = f"assets/{path}/{_VOCABULARY_FILE}"
        data = read_member(member)
        if data is None:
            raise error(f"lacks {member!r}, the vocabulary of TextVectorization '{name}'")
        try:
            lines = data.decode("utf-8").splitlines()  # as Keras reads it
        except UnicodeDecodeError as failure:
            raise error(f"holds {member!r}, which is not UTF-8 text ({failure})") from None
        while lines and lines[-1] == "":
            lines.pop()
        idf = None
        if config.get("output_mode") == "tf_idf":
            idf = (named.get(f"{path}/vars") or {}).get(_IDF)
            if idf is None:
                raise error(f"holds no {_IDF} in {path}/vars of its weights for "
                            f"TextVectorization '{name}' (output_mode 'tf_idf')")
            if idf.ndim != 1 or len(idf) < len(lines):
                raise error(f"holds {_IDF} of shape {idf.shape} for TextVectorization '{name}', "
                            f"whose vocabulary has {len(lines)} entries")
            idf = [float(w) for w in idf[:len(lines)]]  # past it: pad_to_max_tokens's zeros
        spec["config"] = {**config, "vocabulary": lines, "idf_weights": idf,
                          "has_input_vocabulary": False}
