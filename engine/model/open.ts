// Opens a GGUF on a named backend: the one place that knows both implementations.
import type { GGUF } from '../gguf/gguf.js';
import type { Backend, BackendName, OpenOptions } from './backend.js';
import { ReferenceModel } from './reference.js';
import { WebGpuModel } from './webgpu-model.js';

/** Loads the model onto the named backend. WebGPU never falls back to the reference silently. */
export async function openBackend(g: GGUF, name: BackendName, o: OpenOptions): Promise<Backend> {
  if (name === 'reference') return ReferenceModel.load(g, o);
  return WebGpuModel.load(g, o);
}
