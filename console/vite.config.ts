import { defineConfig } from 'vite';

// Static assets for dispatch-server's [http] assets_dir. No inline scripts or styles: the
// server's Content-Security-Policy forbids them, so the module preload polyfill (an inline
// helper in some setups) is off and assets stay separate files.
export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    chunkSizeWarningLimit: 1024,
  },
});
