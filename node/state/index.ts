export * from './world.ts';
export * from './commitment.ts';
export { StateNodeStore, type Db } from './nodestore.ts';
