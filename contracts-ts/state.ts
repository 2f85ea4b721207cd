/**
 * What contract code may touch: storage, nonces and class hashes of contracts, nothing else.
 * No IO, no clock, no randomness: time comes from the block context, and every read is
 * synchronous so execution is a plain deterministic function of (state, transaction, block).
 *
 * The node implements StateAccess over its Merkle-ized state with a per-transaction journal:
 * when a transaction throws TxRevert, every write it made is undone.
 */
export interface StateAccess {
  getStorage(address: bigint, key: bigint): bigint;
  setStorage(address: bigint, key: bigint, value: bigint): void;
  getNonce(address: bigint): bigint;
  setNonce(address: bigint, nonce: bigint): void;
  /** 0n when nothing is deployed at the address. */
  getClassHash(address: bigint): bigint;
  deploy(address: bigint, classHash: bigint): void;
}

export interface BlockContext {
  blockNumber: bigint;
  /** Seconds since the Unix epoch, from the block header: the only clock contracts see. */
  timestamp: bigint;
  /** Chain id as a felt (short string, e.g. PERPNODE_DEVNET). */
  chainId: bigint;
  sequencerAddress: bigint;
}

export interface ExecContext {
  block: BlockContext;
  /**
   * Signature check against an x-only stark key. The node passes a cached verifier (ingress
   * already checked most signatures); the answer is the same as crypto.verify, so execution
   * stays deterministic.
   */
  verify(msgHash: bigint, starkKey: bigint, r: bigint, s: bigint): boolean;
  /**
   * Message hashes already computed where the signatures were verified (the sequencer's verify
   * pool), answered only for the exact message object and content they were computed from
   * (contracts-ts/message-hashes.ts has the rule). Optional: without it (followers, tools) or on
   * a miss the contract computes the hash itself, with the same result.
   */
  messageHashes?: MessageHashes;
}

/** The signed messages whose hash may be carried into execution (typed-data.ts TYPES). */
export type MessageKind = 'Order' | 'Cancel';

export interface MessageHashes {
  /** The SNIP-12 hash of `msg` under `chainId` if it was computed from exactly this object as it is now; else undefined. */
  lookup(kind: MessageKind, msg: object, chainId: bigint): bigint | undefined;
}

export interface ContractEvent {
  fromAddress: bigint;
  keys: bigint[];
  data: bigint[];
}

/** A transaction that fails a rule. The executor undoes its writes and records the reason. */
export class TxRevert extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** For TRADE: which order's side of the rule failed, when one did (the matcher drops that order). */
    readonly party?: 'maker' | 'taker',
  ) {
    super(message);
    this.name = 'TxRevert';
  }
}

/** A plain in-memory StateAccess, for tests and tools (the node has its own). */
export class MemoryState implements StateAccess {
  readonly storage = new Map<string, bigint>();
  readonly nonces = new Map<bigint, bigint>();
  readonly classes = new Map<bigint, bigint>();
  getStorage(address: bigint, key: bigint): bigint {
    return this.storage.get(address.toString(16) + ':' + key.toString(16)) ?? 0n;
  }
  setStorage(address: bigint, key: bigint, value: bigint): void {
    const k = address.toString(16) + ':' + key.toString(16);
    if (value === 0n) this.storage.delete(k);
    else this.storage.set(k, value);
  }
  getNonce(address: bigint): bigint {
    return this.nonces.get(address) ?? 0n;
  }
  setNonce(address: bigint, nonce: bigint): void {
    this.nonces.set(address, nonce);
  }
  getClassHash(address: bigint): bigint {
    return this.classes.get(address) ?? 0n;
  }
  deploy(address: bigint, classHash: bigint): void {
    this.classes.set(address, classHash);
  }
}

/**
 * Writes over a base state: reads fall through, writes stay here until `applyTo` (the FOK dry
 * run, RPC simulations and views). `storageWrites` / `nonceWrites` / `classWrites` list them.
 */
export class OverlayState implements StateAccess {
  readonly storageWrites = new Map<string, { address: bigint; key: bigint; value: bigint }>();
  readonly nonceWrites = new Map<bigint, bigint>();
  readonly classWrites = new Map<bigint, bigint>();
  constructor(readonly base: Pick<StateAccess, 'getStorage' | 'getNonce' | 'getClassHash'>) {}
  getStorage(address: bigint, key: bigint): bigint {
    return this.storageWrites.get(address.toString(16) + ':' + key.toString(16))?.value ?? this.base.getStorage(address, key);
  }
  setStorage(address: bigint, key: bigint, value: bigint): void {
    this.storageWrites.set(address.toString(16) + ':' + key.toString(16), { address, key, value });
  }
  getNonce(address: bigint): bigint {
    return this.nonceWrites.get(address) ?? this.base.getNonce(address);
  }
  setNonce(address: bigint, nonce: bigint): void {
    this.nonceWrites.set(address, nonce);
  }
  getClassHash(address: bigint): bigint {
    return this.classWrites.get(address) ?? this.base.getClassHash(address);
  }
  deploy(address: bigint, classHash: bigint): void {
    this.classWrites.set(address, classHash);
  }
  /** Copies these writes onto `target`. */
  applyTo(target: StateAccess): void {
    for (const { address, key, value } of this.storageWrites.values()) target.setStorage(address, key, value);
    for (const [a, n] of this.nonceWrites) target.setNonce(a, n);
    for (const [a, c] of this.classWrites) target.deploy(a, c);
  }
}
