export * from './world.ts';
export * from './commitment.ts';
export { LevelNodeStore, type Db } from './nodestore.ts';
