/*
 * N-API surface of the native crypto backend (plain C, node_api.h only, no dependencies).
 *
 * Two ways across the boundary, both without strings:
 *   - bigint in / bigint out (napi_get_value_bigint_words: the 64-bit words are copied
 *     directly, no conversion work in JS), used by the CryptoBackend methods;
 *   - packed Uint8Arrays of 32-byte big-endian felts for callers that already hold bytes
 *     (a trie level is simply its children concatenated: [a0 b0 a1 b1 ...]).
 *
 * Range rules follow @scure/starknet: Pedersen throws RangeError on inputs >= p, Poseidon
 * reduces 256-bit inputs mod p, verification answers false for anything out of range.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stark.h"

typedef uint64_t u64;

#define CHECK(call)                                             \
  do {                                                          \
    if ((call) != napi_ok) {                                    \
      throw_last(env);                                          \
      return NULL;                                              \
    }                                                           \
  } while (0)

static void throw_last(napi_env env) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return;
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  napi_throw_error(env, "ERR_NATIVE_CRYPTO", info && info->error_message ? info->error_message : "N-API call failed");
}

enum { BIG_OK = 0, BIG_NOT_BIGINT = 1, BIG_NEGATIVE = 2, BIG_TOO_LARGE = 3 };

/* Reads a non-negative bigint below 2^256 into four limbs. */
static int get_u256(napi_env env, napi_value v, u64 out[4]) {
  int sign = 0;
  size_t count = 4;
  out[0] = out[1] = out[2] = out[3] = 0;
  if (napi_get_value_bigint_words(env, v, &sign, &count, out) != napi_ok) return BIG_NOT_BIGINT;
  if (count > 4) return BIG_TOO_LARGE;
  if (sign && (out[0] | out[1] | out[2] | out[3])) return BIG_NEGATIVE;
  return BIG_OK;
}

static napi_value make_u256(napi_env env, const u64 a[4]) {
  napi_value r;
  int n = 4;
  while (n > 0 && a[n - 1] == 0) n--;
  if (napi_create_bigint_words(env, 0, (size_t)n, a, &r) != napi_ok) {
    throw_last(env);
    return NULL;
  }
  return r;
}

static void be32_to_u256(u64 out[4], const uint8_t *b) {
  for (int i = 0; i < 4; i++) {
    const uint8_t *p = b + 24 - 8 * i;
    u64 w = 0;
    for (int j = 0; j < 8; j++) w = (w << 8) | p[j];
    out[i] = w;
  }
}

static void u256_to_be32(uint8_t *b, const u64 a[4]) {
  for (int i = 0; i < 4; i++) {
    u64 w = a[i];
    uint8_t *p = b + 24 - 8 * i;
    for (int j = 7; j >= 0; j--) {
      p[j] = (uint8_t)w;
      w >>= 8;
    }
  }
}

static int throw_felt_error(napi_env env, int code, const char *what) {
  char msg[160];
  if (code == BIG_NOT_BIGINT) {
    snprintf(msg, sizeof msg, "%s must be a bigint", what);
    napi_throw_type_error(env, "ERR_NATIVE_CRYPTO_TYPE", msg);
  } else {
    snprintf(msg, sizeof msg, "%s should be 0 <= value < P", what);
    napi_throw_range_error(env, "ERR_NATIVE_CRYPTO_RANGE", msg);
  }
  return -1;
}

/* a felt for Pedersen: bigint in [0, p), else a thrown RangeError/TypeError */
static int get_felt_strict(napi_env env, napi_value v, u64 out[4], const char *what) {
  int code = get_u256(env, v, out);
  if (code == BIG_OK && !stark_is_felt(out)) code = BIG_TOO_LARGE;
  if (code != BIG_OK) return throw_felt_error(env, code, what);
  return 0;
}

/* a value for Poseidon: bigint in [0, 2^256), reduced mod p as the reference's Fp.create */
static int get_felt_reduce(napi_env env, napi_value v, u64 out[4], const char *what) {
  int code = get_u256(env, v, out);
  if (code != BIG_OK) return throw_felt_error(env, code, what);
  stark_reduce_p(out);
  return 0;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return -1;
  if (argc < want) {
    napi_throw_type_error(env, "ERR_NATIVE_CRYPTO_ARGS", "missing arguments");
    return -1;
  }
  return 0;
}

static int get_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len, const char *what) {
  bool is_ta = false;
  napi_typedarray_type type;
  napi_value ab;
  size_t offset;
  void *ptr = NULL;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, v, &type, len, &ptr, &ab, &offset) != napi_ok || type != napi_uint8_array) {
    char msg[120];
    snprintf(msg, sizeof msg, "%s must be a Uint8Array", what);
    napi_throw_type_error(env, "ERR_NATIVE_CRYPTO_TYPE", msg);
    return -1;
  }
  *data = (uint8_t *)ptr;
  return 0;
}

static int get_array(napi_env env, napi_value v, uint32_t *len, const char *what) {
  bool is_arr = false;
  if (napi_is_array(env, v, &is_arr) != napi_ok || !is_arr || napi_get_array_length(env, v, len) != napi_ok) {
    char msg[120];
    snprintf(msg, sizeof msg, "%s must be an array", what);
    napi_throw_type_error(env, "ERR_NATIVE_CRYPTO_TYPE", msg);
    return -1;
  }
  return 0;
}

/* ---- bigint entry points --------------------------------------------------------------- */

static napi_value js_pedersen(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  u64 a[1][4], b[1][4], out[1][4];
  if (get_args(env, info, 2, argv)) return NULL;
  if (get_felt_strict(env, argv[0], a[0], "a") || get_felt_strict(env, argv[1], b[0], "b")) return NULL;
  if (stark_pedersen_batch(out, (const u64(*)[4])a, (const u64(*)[4])b, 1) != 0) {
    napi_throw_error(env, "ERR_NATIVE_CRYPTO", "pedersen: point at infinity");
    return NULL;
  }
  return make_u256(env, out[0]);
}

static napi_value js_poseidon_hash(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  u64 a[4], b[4], out[4];
  if (get_args(env, info, 2, argv)) return NULL;
  if (get_felt_reduce(env, argv[0], a, "a") || get_felt_reduce(env, argv[1], b, "b")) return NULL;
  stark_poseidon_hash(out, a, b);
  return make_u256(env, out);
}

static napi_value js_poseidon_many(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  uint32_t n;
  if (get_args(env, info, 1, argv) || get_array(env, argv[0], &n, "xs")) return NULL;
  u64 stack[16 * 4];
  u64 *xs = n <= 16 ? stack : malloc((size_t)n * 32);
  napi_value res = NULL;
  if (!xs) {
    napi_throw_error(env, "ERR_NATIVE_CRYPTO", "out of memory");
    return NULL;
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    if (napi_get_element(env, argv[0], i, &v) != napi_ok) {
      throw_last(env);
      goto done;
    }
    if (get_felt_reduce(env, v, xs + 4 * (size_t)i, "xs[i]")) goto done;
  }
  {
    u64 out[4];
    stark_poseidon_many(out, xs, n);
    res = make_u256(env, out);
  }
done:
  if (xs != stack) free(xs);
  return res;
}

static napi_value js_verify(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  u64 v[4][4];
  int ok = 1;
  if (get_args(env, info, 4, argv)) return NULL;
  for (int i = 0; i < 4; i++) {
    if (get_u256(env, argv[i], v[i]) != BIG_OK) ok = 0;
  }
  napi_value r;
  CHECK(napi_get_boolean(env, ok && stark_verify(v[0], v[1], v[2], v[3]), &r));
  return r;
}

/* Reads two equally long bigint arrays into limb buffers; strict = Pedersen rules. */
static int read_pairs(napi_env env, napi_value as, napi_value bs, int strict, u64 (**a)[4], u64 (**b)[4], uint32_t *n) {
  uint32_t na, nb;
  if (get_array(env, as, &na, "as") || get_array(env, bs, &nb, "bs")) return -1;
  if (na != nb) {
    napi_throw_range_error(env, "ERR_NATIVE_CRYPTO_ARGS", "as and bs must have the same length");
    return -1;
  }
  *n = na;
  *a = malloc((size_t)(na ? na : 1) * 32);
  *b = malloc((size_t)(na ? na : 1) * 32);
  if (!*a || !*b) {
    napi_throw_error(env, "ERR_NATIVE_CRYPTO", "out of memory");
    return -1;
  }
  for (uint32_t i = 0; i < na; i++) {
    napi_value va, vb;
    if (napi_get_element(env, as, i, &va) != napi_ok || napi_get_element(env, bs, i, &vb) != napi_ok) {
      throw_last(env);
      return -1;
    }
    int bad = strict ? (get_felt_strict(env, va, (*a)[i], "a") || get_felt_strict(env, vb, (*b)[i], "b"))
                     : (get_felt_reduce(env, va, (*a)[i], "a") || get_felt_reduce(env, vb, (*b)[i], "b"));
    if (bad) return -1;
  }
  return 0;
}

static napi_value limbs_to_array(napi_env env, u64 (*out)[4], uint32_t n) {
  napi_value arr;
  if (napi_create_array_with_length(env, n, &arr) != napi_ok) {
    throw_last(env);
    return NULL;
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value v = make_u256(env, out[i]);
    if (!v || napi_set_element(env, arr, i, v) != napi_ok) {
      throw_last(env);
      return NULL;
    }
  }
  return arr;
}

static napi_value js_pedersen_batch(napi_env env, napi_callback_info info) {
  napi_value argv[2], res = NULL;
  u64(*a)[4] = NULL, (*b)[4] = NULL;
  uint32_t n = 0;
  if (get_args(env, info, 2, argv)) return NULL;
  if (read_pairs(env, argv[0], argv[1], 1, &a, &b, &n) == 0) {
    /* results overwrite a: each a[i] is consumed before out[i] is written */
    if (stark_pedersen_batch(a, (const u64(*)[4])a, (const u64(*)[4])b, n) != 0)
      napi_throw_error(env, "ERR_NATIVE_CRYPTO", "pedersen: point at infinity");
    else
      res = limbs_to_array(env, a, n);
  }
  free(a);
  free(b);
  return res;
}

static napi_value js_poseidon_batch(napi_env env, napi_callback_info info) {
  napi_value argv[2], res = NULL;
  u64(*a)[4] = NULL, (*b)[4] = NULL;
  uint32_t n = 0;
  if (get_args(env, info, 2, argv)) return NULL;
  if (read_pairs(env, argv[0], argv[1], 0, &a, &b, &n) == 0) {
    for (uint32_t i = 0; i < n; i++) stark_poseidon_hash(a[i], a[i], b[i]);
    res = limbs_to_array(env, a, n);
  }
  free(a);
  free(b);
  return res;
}

static napi_value js_verify_batch(napi_env env, napi_callback_info info) {
  napi_value argv[1], arr, keys[4];
  static const char *names[4] = {"msgHash", "starkKey", "r", "s"};
  uint32_t n;
  if (get_args(env, info, 1, argv) || get_array(env, argv[0], &n, "items")) return NULL;
  for (int k = 0; k < 4; k++) CHECK(napi_create_string_utf8(env, names[k], NAPI_AUTO_LENGTH, &keys[k]));
  CHECK(napi_create_array_with_length(env, n, &arr));
  for (uint32_t i = 0; i < n; i++) {
    napi_value item, fld, res;
    u64 v[4][4];
    int ok = 1;
    CHECK(napi_get_element(env, argv[0], i, &item));
    for (int k = 0; k < 4; k++) {
      if (napi_get_property(env, item, keys[k], &fld) != napi_ok) {
        throw_last(env);
        return NULL;
      }
      if (get_u256(env, fld, v[k]) != BIG_OK) ok = 0;
    }
    CHECK(napi_get_boolean(env, ok && stark_verify(v[0], v[1], v[2], v[3]), &res));
    CHECK(napi_set_element(env, arr, i, res));
  }
  return arr;
}

/* ---- packed entry points --------------------------------------------------------------- */

/* pedersenPacked(input: Uint8Array of k pairs (64 bytes each), output: Uint8Array(32k)) */
static napi_value js_pedersen_packed(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  uint8_t *in, *out;
  size_t in_len, out_len;
  if (get_args(env, info, 2, argv) || get_bytes(env, argv[0], &in, &in_len, "input") ||
      get_bytes(env, argv[1], &out, &out_len, "output"))
    return NULL;
  if (in_len % 64 || out_len < in_len / 2) {
    napi_throw_range_error(env, "ERR_NATIVE_CRYPTO_ARGS", "input must hold 64-byte pairs and output 32 bytes per pair");
    return NULL;
  }
  size_t n = in_len / 64;
  u64(*a)[4] = malloc((n ? n : 1) * 32), (*b)[4] = malloc((n ? n : 1) * 32);
  napi_value res = NULL;
  if (!a || !b) {
    napi_throw_error(env, "ERR_NATIVE_CRYPTO", "out of memory");
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    be32_to_u256(a[i], in + 64 * i);
    be32_to_u256(b[i], in + 64 * i + 32);
    if (!stark_is_felt(a[i]) || !stark_is_felt(b[i])) {
      napi_throw_range_error(env, "ERR_NATIVE_CRYPTO_RANGE", "PedersenArg should be 0 <= value < P");
      goto done;
    }
  }
  if (stark_pedersen_batch(a, (const u64(*)[4])a, (const u64(*)[4])b, n) != 0) {
    napi_throw_error(env, "ERR_NATIVE_CRYPTO", "pedersen: point at infinity");
    goto done;
  }
  for (size_t i = 0; i < n; i++) u256_to_be32(out + 32 * i, a[i]);
  napi_get_undefined(env, &res);
done:
  free(a);
  free(b);
  return res;
}

/* poseidonPacked(input: Uint8Array of k pairs, output: Uint8Array(32k)) */
static napi_value js_poseidon_packed(napi_env env, napi_callback_info info) {
  napi_value argv[2], res;
  uint8_t *in, *out;
  size_t in_len, out_len;
  if (get_args(env, info, 2, argv) || get_bytes(env, argv[0], &in, &in_len, "input") ||
      get_bytes(env, argv[1], &out, &out_len, "output"))
    return NULL;
  if (in_len % 64 || out_len < in_len / 2) {
    napi_throw_range_error(env, "ERR_NATIVE_CRYPTO_ARGS", "input must hold 64-byte pairs and output 32 bytes per pair");
    return NULL;
  }
  for (size_t i = 0; i < in_len / 64; i++) {
    u64 a[4], b[4], h[4];
    be32_to_u256(a, in + 64 * i);
    be32_to_u256(b, in + 64 * i + 32);
    stark_reduce_p(a);
    stark_reduce_p(b);
    stark_poseidon_hash(h, a, b);
    u256_to_be32(out + 32 * i, h);
  }
  CHECK(napi_get_undefined(env, &res));
  return res;
}

/* poseidonManyPacked(input: Uint8Array of k felts, output: Uint8Array(32)) */
static napi_value js_poseidon_many_packed(napi_env env, napi_callback_info info) {
  napi_value argv[2], res;
  uint8_t *in, *out;
  size_t in_len, out_len;
  if (get_args(env, info, 2, argv) || get_bytes(env, argv[0], &in, &in_len, "input") ||
      get_bytes(env, argv[1], &out, &out_len, "output"))
    return NULL;
  if (in_len % 32 || out_len < 32) {
    napi_throw_range_error(env, "ERR_NATIVE_CRYPTO_ARGS", "input must hold 32-byte felts and output 32 bytes");
    return NULL;
  }
  size_t n = in_len / 32;
  u64 *xs = malloc((n ? n : 1) * 32);
  if (!xs) {
    napi_throw_error(env, "ERR_NATIVE_CRYPTO", "out of memory");
    return NULL;
  }
  for (size_t i = 0; i < n; i++) {
    be32_to_u256(xs + 4 * i, in + 32 * i);
    stark_reduce_p(xs + 4 * i);
  }
  u64 h[4];
  stark_poseidon_many(h, xs, n);
  free(xs);
  u256_to_be32(out, h);
  CHECK(napi_get_undefined(env, &res));
  return res;
}

/* verifyPacked(input: Uint8Array of k items (msgHash, starkKey, r, s: 128 bytes), output: Uint8Array(k) of 0/1) */
static napi_value js_verify_packed(napi_env env, napi_callback_info info) {
  napi_value argv[2], res;
  uint8_t *in, *out;
  size_t in_len, out_len;
  if (get_args(env, info, 2, argv) || get_bytes(env, argv[0], &in, &in_len, "input") ||
      get_bytes(env, argv[1], &out, &out_len, "output"))
    return NULL;
  if (in_len % 128 || out_len < in_len / 128) {
    napi_throw_range_error(env, "ERR_NATIVE_CRYPTO_ARGS", "input must hold 128-byte items and output 1 byte per item");
    return NULL;
  }
  for (size_t i = 0; i < in_len / 128; i++) {
    u64 v[4][4];
    for (int k = 0; k < 4; k++) be32_to_u256(v[k], in + 128 * i + 32 * k);
    out[i] = (uint8_t)stark_verify(v[0], v[1], v[2], v[3]);
  }
  CHECK(napi_get_undefined(env, &res));
  return res;
}

static napi_value init(napi_env env, napi_value exports) {
  if (stark_init() != 0) {
    napi_throw_error(env, "ERR_NATIVE_CRYPTO", "failed to build the precomputed tables");
    return NULL;
  }
  napi_property_descriptor props[] = {
      {"pedersen", NULL, js_pedersen, NULL, NULL, NULL, napi_enumerable, NULL},
      {"poseidonHash", NULL, js_poseidon_hash, NULL, NULL, NULL, napi_enumerable, NULL},
      {"poseidonHashMany", NULL, js_poseidon_many, NULL, NULL, NULL, napi_enumerable, NULL},
      {"verify", NULL, js_verify, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pedersenBatch", NULL, js_pedersen_batch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"poseidonBatch", NULL, js_poseidon_batch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"verifyBatch", NULL, js_verify_batch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pedersenPacked", NULL, js_pedersen_packed, NULL, NULL, NULL, napi_enumerable, NULL},
      {"poseidonPacked", NULL, js_poseidon_packed, NULL, NULL, NULL, napi_enumerable, NULL},
      {"poseidonHashManyPacked", NULL, js_poseidon_many_packed, NULL, NULL, NULL, napi_enumerable, NULL},
      {"verifyPacked", NULL, js_verify_packed, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) {
    throw_last(env);
    return NULL;
  }
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
