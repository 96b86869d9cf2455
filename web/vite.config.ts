import { defineConfig } from "vite";
import vue from "@vitejs/plugin-vue";

// `npm run dev` proxies the API to a running `radcurate serve` (RADCURATE_API, default :8000)
const api = process.env.RADCURATE_API ?? "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [vue()],
  base: "/",
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 400 },
  server: { proxy: { "/api": api, "/openapi.json": api } },
});
