// RoPE as ggml computes it: each rotated pair's angle at a position (with linear or YaRN scaling and
// llama 3 frequency factors), and the rotation itself. Shared by the reference forward pass and the
// GPU's angle table (kernels/rope.ts).
import type { ModelConfig } from './hparams.js';

/**
 * YaRN's correction range (ggml_rope_yarn_corr_dims): pair indices below dims[0] extrapolate,
 * above dims[1] interpolate, with a linear ramp between.
 */
export function yarnCorrDims(ropeDim: number, origCtx: number, freqBase: number, betaFast: number, betaSlow: number): [number, number] {
  const corrDim = (nRot: number) => (ropeDim * Math.log(origCtx / (nRot * 2 * Math.PI))) / (2 * Math.log(freqBase));
  return [Math.max(0, Math.floor(corrDim(betaFast))), Math.min(ropeDim - 1, Math.ceil(corrDim(betaSlow)))];
}

/**
 * cos and sin of each rotated pair at one position, as ggml's rope_yarn computes them (the
 * magnitude scale is folded in). `freqFactors` divides each pair's angle (llama 3 rope_freqs).
 */
export function ropeAngles(c: ModelConfig, pos: number, freqFactors?: Float32Array): { cos: Float64Array; sin: Float64Array } {
  const half = c.nRot / 2;
  const s = c.ropeScaling;
  const freqScale = 1 / s.factor;
  const corr = s.extFactor !== 0 ? yarnCorrDims(c.nRot, s.origCtx, c.ropeFreqBase, s.betaFast, s.betaSlow) : [0, 0];
  const mscale = s.extFactor !== 0 ? s.attnFactor * (1 + 0.1 * Math.log(1 / freqScale)) : s.attnFactor;
  const cos = new Float64Array(half);
  const sin = new Float64Array(half);
  for (let i = 0; i < half; i++) {
    const extrap = (pos * Math.pow(c.ropeFreqBase, (-2 * i) / c.nRot)) / (freqFactors ? freqFactors[i] : 1);
    const interp = freqScale * extrap;
    let theta = interp;
    if (s.extFactor !== 0) {
      const y = (i - corr[0]) / Math.max(0.001, corr[1] - corr[0]);
      const ramp = (1 - Math.min(1, Math.max(0, y))) * s.extFactor;
      theta = interp * (1 - ramp) + extrap * ramp;
    }
    cos[i] = Math.cos(theta) * mscale;
    sin[i] = Math.sin(theta) * mscale;
  }
  return { cos, sin };
}

/** Rotates the first nRot elements of the head vector at x[off] in place. */
export function applyRope(x: Float32Array, off: number, neox: boolean, cos: Float64Array, sin: Float64Array): void {
  const half = cos.length;
  for (let i = 0; i < half; i++) {
    const a = neox ? off + i : off + 2 * i;
    const b = neox ? a + half : a + 1;
    const x0 = x[a], x1 = x[b];
    x[a] = x0 * cos[i] - x1 * sin[i];
    x[b] = x0 * sin[i] + x1 * cos[i];
  }
}
