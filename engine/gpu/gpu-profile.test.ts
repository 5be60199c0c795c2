// Kernel timing from timestamps: every timed pass is counted under its label, longer work measures
// longer, and a take starts the totals over.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Gpu } from './gpu.js';
import { GpuProfile } from './gpu-profile.js';

test('passes are timed per label, and take() starts over', async () => {
  const gpu = await Gpu.create();
  try {
    assert.ok(gpu.timestamps, 'the adapter offers timestamp-query (lavapipe and the GPUs we target do)');
    const pipeline = await gpu.pipeline({
      label: 'spin',
      code: '@group(0) @binding(0) var<storage, read_write> a: array<f32>;\n@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) i: vec3u) {\n  var x = a[i.x];\n  for (var k = 0; k < 2000; k++) { x = sin(x) + 1.0; }\n  a[i.x] = x;\n}\n',
    });
    const data = gpu.buffer('spin data', 4 * 64 * 256, 'scratch');
    const bg = gpu.bindGroup('spin', pipeline, [data]);
    const profile = new GpuProfile(gpu);
    for (let step = 0; step < 3; step++) {
      const enc = gpu.device.createCommandEncoder();
      for (const [label, groups] of [['light', 1], ['heavy', 256], ['light', 1]] as const) {
        const pass = profile.pass(enc, label);
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, bg);
        pass.dispatchWorkgroups(groups);
        pass.end();
      }
      profile.submit(enc);
    }
    const got = await profile.take();
    assert.deepEqual(got.map((e) => [e.kernel, e.calls]), [['light', 6], ['heavy', 3]]);
    const [light, heavy] = got;
    assert.ok(light.ms > 0 && heavy.ms > 4 * light.ms, `light ${light.ms} ms x6, heavy ${heavy.ms} ms x3`);
    assert.deepEqual(await profile.take(), [], 'a take starts over');
  } finally {
    gpu.destroy();
  }
});
