#!/usr/bin/env node
// Launcher: runs the TypeScript CLI through tsx's ESM loader (no build step).
import { register } from 'tsx/esm/api';

register();
await import('../server/cli/main.ts');
