/** Moved to contracts-ts/crypto/js.ts (the contracts' crypto layer); re-exported for node code. */
export * from '../../contracts-ts/crypto/js.ts';
