"""Reads a safetensors file and prints its tensors and metadata as JSON (for SafetensorsTest).

Uses huggingface's safetensors package when it is installed; otherwise a small pure-Python
reader that applies the same validation as the reference implementation
(safetensors/src/tensor.rs): header length within the file, header is a UTF-8 JSON object
starting with '{', every tensor's byte count matches dtype x shape, and the data offsets
are contiguous from 0 and cover the data buffer exactly.
"""
import json
import struct
import sys
from array import array


def pure_python(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError("file shorter than 8 bytes")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise ValueError("header length %d beyond file of %d bytes" % (n, len(data)))
    header_text = data[8:8 + n].decode("utf-8")
    if not header_text.startswith("{"):
        raise ValueError("header does not start with '{'")
    header = json.loads(header_text)
    metadata = header.pop("__metadata__", {}) or {}
    buffer = data[8 + n:]
    spans = []
    tensors = {}
    for name, info in header.items():
        if info["dtype"] != "F32":
            raise ValueError("%s: dtype %s" % (name, info["dtype"]))
        begin, end = info["data_offsets"]
        count = 1
        for d in info["shape"]:
            count *= d
        if end - begin != 4 * count:
            raise ValueError("%s: %d bytes for shape %s" % (name, end - begin, info["shape"]))
        values = array("f")
        values.frombytes(buffer[begin:end])
        if sys.byteorder != "little":
            values.byteswap()
        tensors[name] = {"shape": info["shape"], "values": [float(v) for v in values]}
        spans.append((begin, end))
    at = 0
    for begin, end in sorted(spans):
        if begin != at:
            raise ValueError("data offsets not contiguous at byte %d" % at)
        at = end
    if at != len(buffer):
        raise ValueError("data buffer is %d bytes, tensors cover %d" % (len(buffer), at))
    return "pure-python", tensors, metadata


def with_safetensors(path):
    from safetensors import safe_open  # noqa: raises ImportError when absent
    tensors = {}
    with safe_open(path, framework="numpy") as f:
        metadata = f.metadata() or {}
        for name in f.keys():
            t = f.get_tensor(name)
            tensors[name] = {"shape": list(t.shape), "values": [float(v) for v in t.reshape(-1)]}
    return "safetensors", tensors, metadata


def write_reference(path):
    """Writes a file with huggingface's own writer (exit code 3 when it is not installed)."""
    try:
        import numpy as np
        from safetensors.numpy import save_file
    except ImportError:
        sys.exit(3)
    tensors = {
        "b.weight": np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5,
        "a.bias": np.array([1.0e-3, -7.25, 3.0e30], dtype=np.float32),
        "scalar": np.array(42.0, dtype=np.float32),
    }
    save_file(tensors, path, metadata={"arch": "attn", "epoch": "7"})


def main():
    if sys.argv[1] == "--write":
        write_reference(sys.argv[2])
        return
    path = sys.argv[1]
    try:
        reader, tensors, metadata = with_safetensors(path)
    except ImportError:
        reader, tensors, metadata = pure_python(path)
    print(json.dumps({"reader": reader, "tensors": tensors, "metadata": metadata}))


if __name__ == "__main__":
    main()
