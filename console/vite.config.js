// Built by CMake (console/CMakeLists.txt): `vite build --outDir <build>/console/dist`, then embedded.
// Everything is self-contained: no CDN, no external fonts, no inline script or style (the console is
// served with a strict Content-Security-Policy).
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/admin/',
  build: {
    target: 'es2020',
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    emptyOutDir: true,
    sourcemap: false,
  },
  logLevel: 'warn',
});
