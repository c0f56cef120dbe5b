import { MemoryDriver } from '../../registry/storage/memory.js';
import { runDriverSuite } from './driver-suite.js';

runDriverSuite('memory', async () => ({ driver: new MemoryDriver(), cleanup: async () => {} }));
