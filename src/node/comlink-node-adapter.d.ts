// comlink's Node adapter, imported by its file name (the package has no exports map for Node ESM).
declare module 'comlink/dist/esm/node-adapter.mjs' {
  export { default } from 'comlink/dist/esm/node-adapter';
}
