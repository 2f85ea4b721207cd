/**
 * JSON-RPC error codes: the JSON-RPC 2.0 ones, the Starknet spec 0.10 ones where the meaning
 * matches, the exchange's rule codes (10000-10999, contracts-ts ERROR_CODES) and the node's own
 * conditions (11000-11999, below). Documented in docs/rpc.md.
 */
export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
    this.name = 'RpcError';
  }
}

export const E = {
  parse: () => new RpcError(-32700, 'Parse error'),
  invalidRequest: (why?: string) => new RpcError(-32600, 'Invalid Request', why),
  methodNotFound: (m: string) => new RpcError(-32601, 'Method not found', { method: m }),
  invalidParams: (why: string) => new RpcError(-32602, 'Invalid params', why),
  internal: () => new RpcError(-32603, 'Internal error'),
  // Starknet spec
  blockNotFound: () => new RpcError(24, 'Block not found'),
  contractNotFound: () => new RpcError(20, 'Contract not found'),
  txHashNotFound: () => new RpcError(29, 'Transaction hash not found'),
  invalidTxIndex: () => new RpcError(27, 'Invalid transaction index in a block'),
  pageSizeTooBig: () => new RpcError(31, 'Requested page size is too big'),
  noBlocks: () => new RpcError(32, 'There are no blocks'),
  invalidContinuationToken: () => new RpcError(33, 'The supplied continuation token is invalid or unknown'),
  tooManyKeysInFilter: () => new RpcError(34, 'Too many keys provided in a filter'),
  storageProofNotSupported: () => new RpcError(42, 'the node doesn\'t support storage proofs for blocks that are too far in the past'),
  validationFailure: (why: string) => new RpcError(55, 'Account validation failed', why),
  invalidNonce: (why: string) => new RpcError(52, 'Invalid transaction nonce', why),
  duplicateTx: () => new RpcError(59, 'A transaction with the same hash already exists in the mempool'),
  tooManyAddressesInFilter: () => new RpcError(67, 'Too many addresses in filter sender_address filter'),
  tooManyBlocksBack: () => new RpcError(68, 'Cannot go back more than 1024 blocks'),
  invalidSubscriptionId: () => new RpcError(66, 'Invalid subscription id'),
  // perpnode
  rejected: (code: string, why: string) => new RpcError(10000, 'Transaction rejected', { reason: code, message: why }),
  halted: (why: string) => new RpcError(11003, 'Block production is halted', why),
  rateLimited: () => new RpcError(11004, 'Rate limit exceeded'),
  tooLarge: (what: string) => new RpcError(11005, 'Request too large', what),
  orderNotFound: () => new RpcError(11006, 'Order not found'),
  notOnThisRole: (why: string) => new RpcError(11008, 'Not available on this node', why),
  timeout: () => new RpcError(11009, 'Request timed out'),
  mempoolFull: () => new RpcError(11010, 'Too many transactions waiting; retry later'),
  unauthorized: () => new RpcError(11011, 'Unauthorized'),
  starting: (why: string) => new RpcError(11012, 'The node is starting; retry shortly', why),
};
