// Vite config for the QuantLab static site: Svelte, ES-module workers, cross-origin isolation
// headers (so ONNX Runtime WASM can use threads) and ONNX Runtime's wasm files served by the app
// itself under ort/ - never from a CDN, since the app must work offline.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { defineConfig, type Plugin } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { BUILD_ASSETS_DIR, ORT_WASM_CPU_FILES, ORT_WASM_DIR, ORT_WASM_FILES } from './src/lib/page/ort-assets';

/** COOP + COEP make the page crossOriginIsolated (SharedArrayBuffer, WASM threads); CORP lets it load our own files. */
export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
} as const;

const require = createRequire(import.meta.url);
/** node_modules/onnxruntime-web/dist, found through the package's own export map (both builds sit there). */
const ortDist = path.dirname(require.resolve('onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm'));

const ORT_DEFAULT_WASM_URL = `new URL("${ORT_WASM_FILES.wasm}",import.meta.url)`;

/**
 * Serves ORT's wasm runtime files at <base>ort/ in dev and emits them as ort/<file> in the build,
 * byte for byte (Vite must not transform the Emscripten .mjs). It also checks that every built
 * chunk lives in assets/, which src/lib/page/ort-assets.ts relies on to find the app root from a worker.
 */
function ortWasmAssets(): Plugin {
  const files = [...Object.values(ORT_WASM_FILES), ...Object.values(ORT_WASM_CPU_FILES)];
  let isWorker = false;
  return {
    name: 'quantlab:ort-wasm-assets',
    enforce: 'pre',
    configResolved(config) {
      isWorker = config.isWorker;
    },
    // ORT's bundle names its wasm with new URL(<file>, import.meta.url), a default the app never
    // uses (it sets wasmPaths). Left as is, Vite would emit a second 26 MB copy into assets/.
    transform(code, id) {
      if (!id.includes('onnxruntime-web') || !code.includes(ORT_DEFAULT_WASM_URL)) return null;
      return {
        code: code.replaceAll(
          ORT_DEFAULT_WASM_URL,
          ORT_DEFAULT_WASM_URL.replace('import.meta.url', '/* @vite-ignore */ import.meta.url'),
        ),
        map: null,
      };
    },
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const url = new URL(req.url ?? '/', 'http://x');
        const prefix = server.config.base + ORT_WASM_DIR;
        const name = url.pathname.startsWith(prefix) ? url.pathname.slice(prefix.length) : '';
        if (!files.includes(name as (typeof files)[number])) return next();
        res.setHeader('Content-Type', name.endsWith('.wasm') ? 'application/wasm' : 'text/javascript');
        for (const [k, v] of Object.entries(ISOLATION_HEADERS)) res.setHeader(k, v);
        res.end(readFileSync(path.join(ortDist, name)));
      });
    },
    generateBundle(_options, bundle) {
      for (const name of Object.keys(bundle)) {
        const chunk = bundle[name];
        if (chunk.type === 'chunk' && !chunk.fileName.startsWith(`${BUILD_ASSETS_DIR}/`)) {
          this.error(
            `chunk ${chunk.fileName} is outside ${BUILD_ASSETS_DIR}/: src/lib/page/ort-assets.ts would compute a wrong app root`,
          );
        }
      }
      // Workers are bundled by a nested build that runs this plugin too: emit only from the main one.
      if (!isWorker) {
        for (const name of files) {
          this.emitFile({
            type: 'asset',
            fileName: ORT_WASM_DIR + name,
            source: readFileSync(path.join(ortDist, name)),
          });
        }
      }
    },
  };
}

/** The prestart entry (rolldown input name): its own chunk, run before the app's bundle. */
const PRESTART = 'prestart';

/**
 * Puts the prestart entry's script in index.html before the app's (Vite would merge a second module
 * script of the page into the app's entry chunk): it runs as soon as its few kB have loaded, while
 * the app's bundle is still parsing, so the first column's worker and the WebGPU adapter request
 * start then (src/browser/prestart.ts). In dev, main.ts imports it first, as it does in the build.
 */
function prestartScript(): Plugin {
  return {
    name: 'quantlab:prestart-script',
    transformIndexHtml: {
      order: 'post',
      handler(html, ctx) {
        if (!ctx.bundle || !ctx.filename.endsWith('index.html')) return html;
        const chunk = Object.values(ctx.bundle).find((c) => c.type === 'chunk' && c.isEntry && c.name === PRESTART);
        const app = /<script type="module" crossorigin src="[^"]*"><\/script>/.exec(html);
        if (!chunk || !app) throw new Error(`index.html: the ${PRESTART} entry or the app's script is missing`);
        // Module scripts run in document order: this one first.
        const tag = `<script type="module" crossorigin src="./${chunk.fileName}"></script>\n    `;
        return html.slice(0, app.index) + tag + html.slice(app.index);
      },
    },
  };
}

export default defineConfig({
  base: './',
  plugins: [svelte(), ortWasmAssets(), prestartScript()],
  worker: { format: 'es', plugins: () => [ortWasmAssets()] },
  build: {
    assetsDir: BUILD_ASSETS_DIR,
    // Two pages: the app, and bench.html, which `quantlab bench` drives (the real column worker
    // against the floor worker, with no playground state loading models beside them).
    rolldownOptions: {
      input: {
        main: path.resolve(import.meta.dirname, 'index.html'),
        bench: path.resolve(import.meta.dirname, 'bench.html'),
        [PRESTART]: path.resolve(import.meta.dirname, 'src/browser/prestart.ts'),
      },
    },
    // Every browser with WebGPU or WASM SIMD threads supports <link rel="modulepreload">.
    modulePreload: { polyfill: false },
    // the ORT wasm is 26 MB and transformers.js about 1 MB: big files are expected here
    chunkSizeWarningLimit: 2000,
  },
  // onnxruntime-web resolves its wasm/mjs at run time from wasmPaths: pre-bundling only breaks that.
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  server: { headers: ISOLATION_HEADERS },
  preview: { headers: ISOLATION_HEADERS },
});
