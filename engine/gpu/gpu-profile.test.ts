// Kernel timing from timestamps: every timed pass is counted under its label, in the order labels
// first ran, each pass's end comes after its start, the durations fit in the wall time they ran in
// (so the units are right), and a take starts the totals over. Nothing here depends on how fast the
// adapter is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Gpu } from './gpu.js';
import { GpuProfile } from './gpu-profile.js';

test('passes are counted and timed per label, and take() starts over', async () => {
  const gpu = await Gpu.create();
  try {
    assert.ok(gpu.timestamps, 'the adapter offers timestamp-query (lavapipe and the GPUs we target do)');
    const pipeline = await gpu.pipeline({
      label: 'spin',
      code: '@group(0) @binding(0) var<storage, read_write> a: array<f32>;\n@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) i: vec3u) {\n  var x = a[i.x];\n  for (var k = 0; k < 200; k++) { x = sin(x) + 1.0; }\n  a[i.x] = x;\n}\n',
    });
    const data = gpu.buffer('spin data', 4 * 64 * 4, 'scratch');
    const bg = gpu.bindGroup('spin', pipeline, [data]);
    const profile = new GpuProfile(gpu);
    const round = async (steps: number, labels: readonly string[]) => {
      const t0 = performance.now();
      for (let step = 0; step < steps; step++) {
        const enc = gpu.device.createCommandEncoder();
        for (const label of labels) {
          const pass = profile.pass(enc, label);
          pass.setPipeline(pipeline);
          pass.setBindGroup(0, bg);
          pass.dispatchWorkgroups(4);
          pass.end();
        }
        profile.submit(enc);
      }
      const got = await profile.take();
      return { got, wallMs: performance.now() - t0 };
    };

    const { got, wallMs } = await round(3, ['b', 'a', 'b', 'c']);
    assert.deepEqual(got.map((e) => [e.kernel, e.calls]), [['b', 6], ['a', 3], ['c', 3]], 'labels in the order they first ran');
    // Each pass's end timestamp is after its start (a pass that did work takes time), and passes of
    // one queue run one after another, so their durations add up to less than the wall time.
    for (const e of got) assert.ok(Number.isFinite(e.ms) && e.ms > 0, `${e.kernel}: ${e.ms} ms`);
    const gpuMs = got.reduce((s, e) => s + e.ms, 0);
    assert.ok(gpuMs < wallMs, `${gpuMs} ms of passes within ${wallMs} ms of wall time`);

    assert.deepEqual(await profile.take(), [], 'a take starts over');
    const again = await round(1, ['c', 'a']);
    assert.deepEqual(again.got.map((e) => [e.kernel, e.calls]), [['c', 1], ['a', 1]], 'counts after a take are fresh');
  } finally {
    gpu.destroy();
  }
});
