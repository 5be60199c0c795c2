// WGSL sources are bundled as text by esbuild (see build.mjs).
declare module '*.wgsl' {
  const source: string;
  export default source;
}
