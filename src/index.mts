// ESM entry: re-exports the CommonJS build, so an app that mixes require and
// import still gets one jobwatch (one instrumentation, one registry).
export * from './index.js';
