import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Served on 127.0.0.1:5173 in development; keyport's ALLOWED_ORIGINS must list that origin.
export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  // Vite's dependency cache stays with the example (git-ignored).
  cacheDir: "node_modules/.vite",
  server: { host: "127.0.0.1", port: 5173, strictPort: true },
  preview: { host: "127.0.0.1", port: 4173, strictPort: true },
  build: { outDir: "dist", emptyOutDir: true },
});
