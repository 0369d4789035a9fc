/**
 * Loaded with `node --import` into a CLI process (test/stopping.test.ts): on
 * SIGTERM, a rejection nobody handles, as BullMQ's Redis connection makes when
 * Redis goes away under a worker that is closing. REJECT_WITH=bug rejects with a
 * TypeError instead: a bug of ours, which must still say so and exit 1.
 */
process.once('SIGTERM', () => {
  // After the command's own SIGTERM listener (registered later, called later) has begun its stop.
  setImmediate(() => {
    const error = process.env.REJECT_WITH === 'bug' ? new TypeError('x is not a function') : Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', syscall: 'read' });
    void Promise.reject(error);
  });
});
