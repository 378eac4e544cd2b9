// In every test file: the Node processes the file spawned and did not stop
// (a failed assertion skips a test's own stop) are killed when the file ends,
// so that none outlives its file on the machine. Files whose apps must stop
// before their Redis still call killAll() in their own afterAll, which runs first.
import { afterAll } from 'vitest';
import { killAll } from './helpers/node-process.js';

afterAll(killAll);
