import { defineConfig } from 'vite';

// The bundle goes straight where Maven packs classpath resources: Spring Boot serves
// META-INF/resources/** as static files, so the daemon jar carries the console.
export default defineConfig({
  base: '/console/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: 'target/classes/META-INF/resources/console',
    emptyOutDir: true,
    sourcemap: false,
    // One small bundle; no code splitting needed for an admin page.
    chunkSizeWarningLimit: 200,
  },
  server: {
    // `npm run dev` proxies the API to a daemon started with `bin/vfio-broker daemon --demo`.
    proxy: { '/api': 'http://127.0.0.1:8080', '/actuator': 'http://127.0.0.1:8080' },
  },
  test: { environment: 'node', include: ['src/**/*.test.ts'] },
} as any);
