/*
 * STARK-field primitives, bit-exact with @scure/starknet. Felts cross this interface as
 * canonical 256-bit integers in four 64-bit limbs, least significant first.
 */
#ifndef PERPNODE_STARK_H
#define PERPNODE_STARK_H

#include <stddef.h>
#include <stdint.h>

/* Builds the precomputed tables once per process (thread-safe); returns 0 on success. */
int stark_init(void);

/* Reduces a 256-bit integer modulo p in place (used where the reference reduces). */
void stark_reduce_p(uint64_t a[4]);
/* 1 when a < p */
int stark_is_felt(const uint64_t a[4]);

/* Poseidon hash of two felts (inputs must be < p): permutation of [a, b, 2], first lane. */
void stark_poseidon_hash(uint64_t out[4], const uint64_t a[4], const uint64_t b[4]);
/* Poseidon sponge over n felts (rate 2, pad with 1 then 0s), as poseidonHashMany. */
void stark_poseidon_many(uint64_t out[4], const uint64_t *xs, size_t n);

/*
 * Pedersen hashes of `count` pairs (a[i], b[i]) (both < p), one field inversion for the whole
 * batch. Returns 0, or -1 if a result is the point at infinity (cannot happen without a
 * discrete-log relation between the constant points; the reference throws there too).
 */
int stark_pedersen_batch(uint64_t (*out)[4], const uint64_t (*a)[4], const uint64_t (*b)[4], size_t count);

/*
 * STARK ECDSA verification against an x-only key: 1 when (r, s) verifies msg for the point
 * with x = key and either y. Returns 0 for anything the reference rejects (values out of
 * range, x not on the curve, s^-1 mod n >= 2^251, ...). Like the reference backend, the key
 * only has to be below p (the public API already refuses keys >= 2^251).
 */
int stark_verify(const uint64_t msg[4], const uint64_t key[4], const uint64_t r[4], const uint64_t s[4]);

#endif
