"""Writes small ONNX models with no dependency (the protobuf wire format by
hand), so the tests run where the onnx package is absent (the GPU machine)."""
from typing import Iterable, List, Sequence, Tuple, Union

import numpy as np

FLOAT, INT64, BOOL = 1, 7, 9
_NP = {np.dtype(np.float32): FLOAT, np.dtype(np.int64): INT64, np.dtype(np.bool_): BOOL}


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative int64 as two's complement, as protobuf does
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _int(field: int, n: int) -> bytes:
    return _varint(field << 3) + _varint(n)


def _bytes(field: int, data: Union[bytes, str]) -> bytes:
    data = data.encode() if isinstance(data, str) else data
    return _varint(field << 3 | 2) + _varint(len(data)) + data


def node(op_type: str, inputs: Sequence[str], outputs: Sequence[str], **attrs: int) -> bytes:
    out = b"".join(_bytes(1, i) for i in inputs) + b"".join(_bytes(2, o) for o in outputs)
    out += _bytes(3, f"{op_type}_{outputs[0]}") + _bytes(4, op_type)
    for name, value in attrs.items():  # int attributes only (AttributeProto.INT = 2)
        out += _bytes(5, _bytes(1, name) + _int(3, value) + _int(20, 2))
    return out


def value(name: str, elem_type: int, shape: Iterable[Union[int, str]]) -> bytes:
    dims = b"".join(_bytes(1, _int(1, d) if isinstance(d, int) else _bytes(2, d)) for d in shape)
    tensor_type = _int(1, elem_type) + _bytes(2, dims)
    return _bytes(1, name) + _bytes(2, _bytes(1, tensor_type))


def initializer(name: str, array: np.ndarray) -> bytes:
    array = np.ascontiguousarray(array)
    return (b"".join(_int(1, d) for d in array.shape) + _int(2, _NP[array.dtype]) + _bytes(8, name)
            + _bytes(9, array.astype(array.dtype.newbyteorder("<")).tobytes()))


def save(path: str, nodes: List[bytes], inputs: List[Tuple[str, int, Sequence]],
         outputs: List[Tuple[str, int, Sequence]], initializers: Iterable[Tuple[str, np.ndarray]] = (),
         opset: int = 17) -> str:
    graph = b"".join(_bytes(1, n) for n in nodes) + _bytes(2, "g")
    graph += b"".join(_bytes(5, initializer(n, a)) for n, a in initializers)
    graph += b"".join(_bytes(11, value(*i)) for i in inputs) + b"".join(_bytes(12, value(*o)) for o in outputs)
    model = _int(1, 8) + _bytes(2, "kiln-tests") + _bytes(7, graph) + _bytes(8, _bytes(1, "") + _int(2, opset))
    with open(path, "wb") as f:
        f.write(model)
    return path

