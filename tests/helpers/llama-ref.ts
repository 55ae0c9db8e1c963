// An independent float64 Llama forward pass written straight from the Hugging Face modeling
// code (RMSNorm, halves RoPE, GQA by repeat_interleave, SwiGLU), used to check ONNX graphs.
import type { DecoderConfig, WeightMap } from '../../src/lib/model/config';

function linear(x: Float64Array, w: Float32Array, out: number, inp: number, bias?: Float32Array): Float64Array {
  const y = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let s = bias ? bias[o] : 0;
    for (let i = 0; i < inp; i++) s += w[o * inp + i] * x[i];
    y[o] = s;
  }
  return y;
}

function rmsnorm(x: Float64Array, w: Float32Array, eps: number): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const r = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * r * w[i]);
}

function rope(v: Float64Array, nHeads: number, hd: number, pos: number, theta: number): void {
  const half = hd / 2;
  for (let h = 0; h < nHeads; h++) {
    for (let i = 0; i < half; i++) {
      const freq = Math.pow(theta, -(2 * i) / hd);
      const c = Math.cos(pos * freq);
      const s = Math.sin(pos * freq);
      const a = v[h * hd + i];
      const b = v[h * hd + i + half];
      v[h * hd + i] = a * c - b * s;
      v[h * hd + i + half] = b * c + a * s;
    }
  }
}

/** Logits [ids.length x vocab] in float64 for a whole sequence (causal). */
export function referenceForward(c: DecoderConfig, w: WeightMap, ids: number[]): Float64Array[] {
  const D = c.hiddenSize,
    H = c.numHeads,
    KVH = c.numKvHeads,
    hd = c.headDim,
    F = c.intermediateSize;
  const g = (n: string) => w.get(n)!.data;
  const keys: Float64Array[][] = Array.from({ length: c.numLayers }, () => []);
  const vals: Float64Array[][] = Array.from({ length: c.numLayers }, () => []);
  const out: Float64Array[] = [];
  ids.forEach((tok, pos) => {
    let x: Float64Array = Float64Array.from(g('model.embed_tokens.weight').subarray(tok * D, (tok + 1) * D));
    for (let l = 0; l < c.numLayers; l++) {
      const p = `model.layers.${l}`;
      const h = rmsnorm(x, g(`${p}.input_layernorm.weight`), c.rmsNormEps);
      const q = linear(h, g(`${p}.self_attn.q_proj.weight`), H * hd, D, w.get(`${p}.self_attn.q_proj.bias`)?.data);
      const k = linear(h, g(`${p}.self_attn.k_proj.weight`), KVH * hd, D, w.get(`${p}.self_attn.k_proj.bias`)?.data);
      const v = linear(h, g(`${p}.self_attn.v_proj.weight`), KVH * hd, D, w.get(`${p}.self_attn.v_proj.bias`)?.data);
      rope(q, H, hd, pos, c.ropeTheta);
      rope(k, KVH, hd, pos, c.ropeTheta);
      keys[l].push(k);
      vals[l].push(v);
      const ctx = new Float64Array(H * hd);
      for (let head = 0; head < H; head++) {
        const kvh = Math.floor(head / (H / KVH));
        const scores = keys[l].map((kk) => {
          let s = 0;
          for (let i = 0; i < hd; i++) s += q[head * hd + i] * kk[kvh * hd + i];
          return s / Math.sqrt(hd);
        });
        const m = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - m));
        const z = e.reduce((a, b) => a + b, 0);
        for (let t = 0; t < e.length; t++)
          for (let i = 0; i < hd; i++) ctx[head * hd + i] += (e[t] / z) * vals[l][t][kvh * hd + i];
      }
      const o = linear(ctx, g(`${p}.self_attn.o_proj.weight`), D, H * hd);
      x = x.map((val, i) => val + o[i]);
      const h2 = rmsnorm(x, g(`${p}.post_attention_layernorm.weight`), c.rmsNormEps);
      const gate = linear(h2, g(`${p}.mlp.gate_proj.weight`), F, D);
      const up = linear(h2, g(`${p}.mlp.up_proj.weight`), F, D);
      const act = gate.map((gv, i) => (gv / (1 + Math.exp(-gv))) * up[i]);
      const down = linear(act, g(`${p}.mlp.down_proj.weight`), D, F);
      x = x.map((val, i) => val + down[i]);
    }
    const f = rmsnorm(x, g('model.norm.weight'), c.rmsNormEps);
    const head = c.tieWordEmbeddings ? g('model.embed_tokens.weight') : g('lm_head.weight');
    out.push(linear(f, head, c.vocabSize, D));
  });
  return out;
}
