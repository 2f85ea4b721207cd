/** Moved to contracts-ts/crypto/felt.ts (the contracts' crypto layer); re-exported for node code. */
export * from '../../contracts-ts/crypto/felt.ts';
