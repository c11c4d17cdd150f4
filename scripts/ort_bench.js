// Times ONNX Runtime (CPU, onnxruntime-node) on one model: the peer for
// `kiln bench`. Prints one JSON line per batch size.
// usage: node scripts/ort_bench.js MODEL.onnx THREADS ITERATIONS WARMUP BATCH[,BATCH...]
const path = require('path');
const ort = require(require.resolve('onnxruntime-node', { paths: [process.env.ORT_DIR || process.cwd()] }));

async function main() {
  const [model, threads, iters, warmup, batches] = process.argv.slice(2);
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: Number(threads), interOpNumThreads: 1, graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  });
  const inputName = session.inputNames[0];
  for (const b of batches.split(',').map(Number)) {
    const n = b * 3 * 224 * 224;
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = Math.sin(i) ;
    const feeds = { [inputName]: new ort.Tensor('float32', data, [b, 3, 224, 224]) };
    for (let i = 0; i < Number(warmup); i++) await session.run(feeds);
    const ms = [];
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < Number(iters); i++) {
      const t = process.hrtime.bigint();
      await session.run(feeds);
      ms.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    const total = Number(process.hrtime.bigint() - t0) / 1e9;
    ms.sort((a, c) => a - c);
    const pct = (p) => ms[Math.min(ms.length - 1, Math.floor(p / 100 * (ms.length - 1) + 0.5))];
    console.log(JSON.stringify({ model: path.basename(model), batch: b, p50_ms: pct(50), p90_ms: pct(90),
                                 p99_ms: pct(99), throughput_per_s: b * Number(iters) / total }));
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
