import { parentPort, workerData } from 'node:worker_threads';
import type { ChunkOptions } from '../chunk/types.ts';
import { parseWhole } from './chunk-whole.ts';

// Chunks one large note off the main thread (markdown-it over megabytes takes seconds, which
// would stall every request), then exits, so the parser's memory goes with it.
const { text, fileName, opts } = workerData as { text: string; fileName: string; opts: ChunkOptions };
parentPort?.postMessage(parseWhole(text, fileName, opts));
