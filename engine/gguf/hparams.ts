// A model's hyperparameters as its GGUF metadata declares them (llama.cpp's llama_hparams). Read and
// checked by engine/model/model.ts; here so that kernels can take a model's shape without the model.

export type Arch = 'llama' | 'qwen2';

export interface RopeScaling {
  type: 'none' | 'linear' | 'yarn';
  /** Context extension factor; positions are interpolated by 1/factor. 1 when type is 'none'. */
  factor: number;
  /** Context length the model was trained at before extension (YaRN's correction range). */
  origCtx: number;
  /** YaRN's mix between interpolation and extrapolation; 0 disables the ramp (llama.cpp: 1 for yarn). */
  extFactor: number;
  /** Magnitude scale passed to rope (llama.cpp's cparams.yarn_attn_factor after its adjustments). */
  attnFactor: number;
  betaFast: number;
  betaSlow: number;
}

export interface ModelConfig {
  arch: Arch;
  name: string;
  nVocab: number;
  nCtxTrain: number;
  nEmbd: number;
  nLayer: number;
  nHead: number;
  nHeadKv: number;
  headDim: number;
  nFf: number;
  rmsEps: number;
  /** Scale applied to Q·K before softmax. */
  attnScale: number;
  /**
   * false: rope rotates adjacent pairs (x[2i], x[2i+1]), ggml's normal mode; true: x[i] with
   * x[i + nRot/2] (NEOX). llama.cpp permutes llama's Q/K rows at conversion so llama runs normal
   * mode; qwen2 runs NEOX.
   */
  ropeNeox: boolean;
  /** Rotated dimensions per head (equal to headDim for the archs we run). */
  nRot: number;
  ropeFreqBase: number;
  ropeScaling: RopeScaling;
  /** `rope_freqs.weight` present (llama 3 frequency factors divide each pair's angle). */
  ropeFreqs: boolean;
  /** Which optional bias tensors the file has (the same in every layer). */
  bias: { qkv: boolean; attnOut: boolean; ffn: boolean };
  /** No `output.weight`: the output projection reuses `token_embd.weight`. */
  tiedEmbeddings: boolean;
  /** general.file_type (llama_ftype), when present. */
  fileType?: number;
}
