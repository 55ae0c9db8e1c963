// The smallest ONNX model ONNX Runtime accepts (y = Identity(x), float32[1]), written straight in
// protobuf's wire format so a column worker can start ONNX Runtime's WASM runtime (fetch, compile,
// threads) before it knows which model it will load, without bundling the ONNX encoder.

/** Field `n` as a length-delimited record (wire type 2). */
function bytesField(n: number, body: Uint8Array | string): number[] {
  const b = typeof body === 'string' ? new TextEncoder().encode(body) : body;
  return [(n << 3) | 2, ...varint(b.length), ...b];
}

/** Field `n` as a varint (wire type 0). */
function intField(n: number, v: number): number[] {
  return [n << 3, ...varint(v)];
}

function varint(v: number): number[] {
  const out: number[] = [];
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return out;
}

const u8 = (xs: number[]) => Uint8Array.from(xs);

/** ValueInfoProto: name, TypeProto.tensor_type { elem_type FLOAT, shape [1] }. */
function floatVector(name: string): Uint8Array {
  const dim = u8(bytesField(1, u8(intField(1, 1)))); // TensorShapeProto.dim { dim_value: 1 }
  const tensor = u8([...intField(1, 1), ...bytesField(2, dim)]); // elem_type 1 = FLOAT, shape
  return u8([...bytesField(1, name), ...bytesField(2, u8(bytesField(1, tensor)))]);
}

/** The model's bytes: IR version 8, opset 13, one Identity node from input "x" to output "y". */
export function identityModelBytes(): Uint8Array {
  const node = u8([...bytesField(1, 'x'), ...bytesField(2, 'y'), ...bytesField(4, 'Identity')]);
  const graph = u8([
    ...bytesField(1, node),
    ...bytesField(2, 'warm-up'),
    ...bytesField(11, floatVector('x')),
    ...bytesField(12, floatVector('y')),
  ]);
  const opset = u8([...bytesField(1, ''), ...intField(2, 13)]);
  return u8([...intField(1, 8), ...bytesField(7, graph), ...bytesField(8, opset)]);
}
