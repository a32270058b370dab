// A child process of `npm run bench -- loss --nack-retries N`: the lossy levels on a server whose
// mediasoup worker (MEDIASOUP_WORKER_BIN, set by the parent) asks N times for a lost packet. mediasoup
// takes its worker binary once per process, hence a process of its own.
import { lossLevelsOnServer, type FromLongNack, type ToLongNack } from './scenario.ts';

const send = (m: FromLongNack): void => void process.send!(m);
process.once('message', (m: ToLongNack) => {
  lossLevelsOnServer(m.levels, m.options, (done, what) => send({ type: 'progress', done, what })).then(
    (rows) => {
      send({ type: 'rows', rows });
      process.disconnect();
    },
    (error: Error) => {
      send({ type: 'error', message: error.stack ?? error.message });
      process.disconnect();
    },
  );
});
