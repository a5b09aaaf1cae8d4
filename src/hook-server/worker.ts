// Entry of the capture service's event threads (dist/hook-worker.mjs, src/hook-server/workers.ts):
// runs the events the service posts, one message back per event.
import { parentPort } from 'node:worker_threads';
import { runEvent, type EventRequest } from './event.js';

parentPort?.on('message', (m: { id: number; request: EventRequest }) => {
  runEvent(m.request).then(
    (result) => parentPort?.postMessage({ id: m.id, result }),
    (e: Error) => parentPort?.postMessage({ id: m.id, error: e.message }),
  );
});
