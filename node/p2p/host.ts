/**
 * The libp2p host: TCP + Noise + Yamux, identify, and gossipsub configured for perpnode —
 * unsigned gossip (every payload carries the sequencer's own STARK signature, so message ids
 * are content hashes and the same block relayed by two peers is one message), asynchronous
 * validation (a follower forwards a block only after it verified it by re-execution), and a
 * connection gater that keeps banned peers out.
 */
import './polyfill.ts';
import { createLibp2p, type Libp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify, type Identify } from '@libp2p/identify';
import { gossipsub, type GossipSub } from '@libp2p/gossipsub';
import type { PrivateKey } from '@libp2p/interface';

export type Host = Libp2p<{ identify: Identify; pubsub: GossipSub }>;

export interface HostOptions {
  privateKey?: PrivateKey;
  host: string;
  port: number;
  /** Our gossip envelope limit; the gossipsub stream limit is set above it so that an oversized
   * message reaches our validator (and its sender is penalised) instead of breaking the stream. */
  maxGossipBytes: number;
  topics: string[];
  isBanned(peerId: string): boolean;
}

export async function createHost(o: HostOptions): Promise<Host> {
  const ip6 = o.host.includes(':');
  return createLibp2p({
    ...(o.privateKey ? { privateKey: o.privateKey } : {}),
    addresses: { listen: [`/${ip6 ? 'ip6' : 'ip4'}/${o.host}/tcp/${o.port}`] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: {
      denyDialPeer: (peerId) => o.isBanned(peerId.toString()),
      denyInboundEncryptedConnection: (peerId) => o.isBanned(peerId.toString()),
      denyOutboundConnection: (peerId) => o.isBanned(peerId.toString()),
    },
    services: {
      identify: identify(),
      pubsub: gossipsub({
        globalSignaturePolicy: 'StrictNoSign',
        asyncValidation: true,
        allowPublishToZeroTopicPeers: true,
        ignoreDuplicatePublishError: true,
        emitSelf: false,
        floodPublish: true,
        allowedTopics: o.topics,
        maxInboundDataLength: 4 * o.maxGossipBytes + (64 << 10),
        maxOutboundBufferSize: 16 * o.maxGossipBytes + (1 << 20),
      }),
    },
  });
}
