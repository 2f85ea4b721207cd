/** Moved to contracts-ts/crypto/backend.ts (the contracts' crypto layer); re-exported for node code. */
export type * from '../../contracts-ts/crypto/backend.ts';
