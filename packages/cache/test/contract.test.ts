import { describeCacheContract } from '@mig/core/testing';
import { createStatusCache } from '../src/index.js';

describeCacheContract('createStatusCache', {
  create: ({ ttlMs, now }) => createStatusCache({ ttlMs, now }),
});
