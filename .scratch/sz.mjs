import { build } from 'esbuild';
const r = await build({ absWorkingDir: '/work/wt/reliability/packages/codec', entryPoints: ['src/loader.ts'], bundle: true, minify: true, format: 'esm', platform: 'browser', write: false, metafile: true, logLevel: 'silent', external: ['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers'], conditions: ['source'] });
const o = Object.values(r.metafile.outputs)[0];
for (const [k, v] of Object.entries(o.inputs).sort((a, b) => b[1].bytesInOutput - a[1].bytesInOutput)) console.log(k, v.bytesInOutput);
