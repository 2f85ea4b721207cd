#!/usr/bin/env node
// Entry point for the `perpnode` binary: runs the TypeScript CLI through tsx's loader.
import { register } from 'tsx/esm/api';
register();
await import('../node/cli.ts');
