/*
 * Poseidon, Pedersen and STARK ECDSA verification over the STARK curve
 *   y^2 = x^3 + x + beta  over F_p,  p = 2^251 + 17·2^192 + 1,  prime order n.
 * Reference semantics: @scure/starknet (see docs/crypto.md for the exact rules matched here).
 */
#include "stark.h"

#include <pthread.h>
#include <stdlib.h>

#include "field.h"

typedef struct { fe X, Y, Z; } jac; /* Jacobian: x = X/Z^2, y = Y/Z^3; Z = 0 is infinity */
typedef struct { fe x, y; } aff;    /* affine point, never infinity */

#define COMB_ENTRIES 255 /* 8-bit windows: multiples 1..255 of 256^i·P */

static fe FE_ONE, FE_TWO, FE_BETA;
static fe POS_RC[92][3]; /* round constants; row 91 stays zero */
static u64 P_TIMES[7][4];  /* 0, p, ..., 6p */
static aff PED_SHIFT;
static aff *PED_A_LO, *PED_B_LO; /* 31 windows: bits 0..247 */
static aff *PED_A_HI, *PED_B_HI; /* 1 window: bits 248..251 (only 1..15 used) */
static aff *GEN_COMB;            /* 32 windows: a scalar below n < 2^252 */
static int INIT_RESULT = -1;
static pthread_once_t INIT_ONCE = PTHREAD_ONCE_INIT;

static const u64 TWO_POW_251[4] = {0, 0, 0, 1ULL << 59};

/* ---- points ---------------------------------------------------------------------------- */

static inline int jac_is_inf(const jac *p) { return fe_is_zero(&p->Z); }

static inline void jac_set_inf(jac *p) {
  p->X = FE_ONE;
  p->Y = FE_ONE;
  memset(&p->Z, 0, sizeof p->Z);
}

static inline void jac_from_aff(jac *r, const aff *a) {
  r->X = a->x;
  r->Y = a->y;
  r->Z = FE_ONE;
}

/* r = 2p on y^2 = x^3 + a·x + b; a == NULL means a = 1 (the STARK curve). dbl-2007-bl. */
static void jac_dbl(jac *r, const jac *p, const fe *a) {
  if (jac_is_inf(p)) {
    *r = *p;
    return;
  }
  fe XX, YY, YYYY, ZZ, S, M, T, t, Y3, Z3;
  fe_sqr(&XX, &p->X);
  fe_sqr(&YY, &p->Y);
  fe_sqr(&YYYY, &YY);
  fe_sqr(&ZZ, &p->Z);
  fe_add(&S, &p->X, &YY);
  fe_sqr(&S, &S);
  fe_sub(&S, &S, &XX);
  fe_sub(&S, &S, &YYYY);
  fe_dbl(&S, &S); /* S = 4·X·Y^2 */
  fe_sqr(&t, &ZZ);
  if (a) fe_mul(&t, &t, a);
  fe_dbl(&M, &XX);
  fe_add(&M, &M, &XX);
  fe_add(&M, &M, &t); /* M = 3X^2 + a·Z^4 */
  fe_sqr(&T, &M);
  fe_sub(&T, &T, &S);
  fe_sub(&T, &T, &S);
  fe_add(&Z3, &p->Y, &p->Z);
  fe_sqr(&Z3, &Z3);
  fe_sub(&Z3, &Z3, &YY);
  fe_sub(&Z3, &Z3, &ZZ); /* 2·Y·Z */
  fe_sub(&Y3, &S, &T);
  fe_mul(&Y3, &Y3, &M);
  fe_dbl(&YYYY, &YYYY);
  fe_dbl(&YYYY, &YYYY);
  fe_dbl(&YYYY, &YYYY);
  fe_sub(&Y3, &Y3, &YYYY);
  r->X = T;
  r->Y = Y3;
  r->Z = Z3;
}

/* r = p + q with q affine (madd-2007-bl); every special case handled (a as in jac_dbl). */
static void jac_madd(jac *r, const jac *p, const aff *q, const fe *a) {
  if (jac_is_inf(p)) {
    jac_from_aff(r, q);
    return;
  }
  fe Z1Z1, U2, S2, H, HH, I, J, rr, V, t, X3, Y3, Z3;
  fe_sqr(&Z1Z1, &p->Z);
  fe_mul(&U2, &q->x, &Z1Z1);
  fe_mul(&S2, &q->y, &p->Z);
  fe_mul(&S2, &S2, &Z1Z1);
  fe_sub(&H, &U2, &p->X);
  fe_sub(&rr, &S2, &p->Y);
  if (fe_is_zero(&H)) {
    if (fe_is_zero(&rr)) {
      jac tmp;
      jac_from_aff(&tmp, q);
      jac_dbl(r, &tmp, a);
    } else {
      jac_set_inf(r);
    }
    return;
  }
  fe_sqr(&HH, &H);
  fe_dbl(&I, &HH);
  fe_dbl(&I, &I);
  fe_mul(&J, &H, &I);
  fe_dbl(&rr, &rr);
  fe_mul(&V, &p->X, &I);
  fe_sqr(&X3, &rr);
  fe_sub(&X3, &X3, &J);
  fe_sub(&X3, &X3, &V);
  fe_sub(&X3, &X3, &V);
  fe_sub(&Y3, &V, &X3);
  fe_mul(&Y3, &Y3, &rr);
  fe_mul(&t, &p->Y, &J);
  fe_dbl(&t, &t);
  fe_sub(&Y3, &Y3, &t);
  fe_add(&Z3, &p->Z, &H);
  fe_sqr(&Z3, &Z3);
  fe_sub(&Z3, &Z3, &Z1Z1);
  fe_sub(&Z3, &Z3, &HH);
  r->X = X3;
  r->Y = Y3;
  r->Z = Z3;
}

/* r = p + q, both Jacobian (add-2007-bl); every special case handled. */
static void jac_add(jac *r, const jac *p, const jac *q, const fe *a) {
  if (jac_is_inf(p)) {
    *r = *q;
    return;
  }
  if (jac_is_inf(q)) {
    *r = *p;
    return;
  }
  fe Z1Z1, Z2Z2, U1, U2, S1, S2, H, I, J, rr, V, t, X3, Y3, Z3;
  fe_sqr(&Z1Z1, &p->Z);
  fe_sqr(&Z2Z2, &q->Z);
  fe_mul(&U1, &p->X, &Z2Z2);
  fe_mul(&U2, &q->X, &Z1Z1);
  fe_mul(&S1, &p->Y, &q->Z);
  fe_mul(&S1, &S1, &Z2Z2);
  fe_mul(&S2, &q->Y, &p->Z);
  fe_mul(&S2, &S2, &Z1Z1);
  fe_sub(&H, &U2, &U1);
  fe_sub(&rr, &S2, &S1);
  if (fe_is_zero(&H)) {
    if (fe_is_zero(&rr)) jac_dbl(r, p, a);
    else jac_set_inf(r);
    return;
  }
  fe_dbl(&I, &H);
  fe_sqr(&I, &I);
  fe_mul(&J, &H, &I);
  fe_dbl(&rr, &rr);
  fe_mul(&V, &U1, &I);
  fe_sqr(&X3, &rr);
  fe_sub(&X3, &X3, &J);
  fe_sub(&X3, &X3, &V);
  fe_sub(&X3, &X3, &V);
  fe_sub(&Y3, &V, &X3);
  fe_mul(&Y3, &Y3, &rr);
  fe_mul(&t, &S1, &J);
  fe_dbl(&t, &t);
  fe_sub(&Y3, &Y3, &t);
  fe_add(&Z3, &p->Z, &q->Z);
  fe_sqr(&Z3, &Z3);
  fe_sub(&Z3, &Z3, &Z1Z1);
  fe_sub(&Z3, &Z3, &Z2Z2);
  fe_mul(&Z3, &Z3, &H);
  r->X = X3;
  r->Y = Y3;
  r->Z = Z3;
}

/*
 * Inverts the n elements of v in place with one field inversion (Montgomery's trick).
 * Zero elements stay zero. scratch holds n elements.
 */
static void fe_batch_inv(fe *v, size_t n, fe *scratch) {
  fe acc = FE_ONE;
  for (size_t i = 0; i < n; i++) {
    scratch[i] = acc;
    if (!fe_is_zero(&v[i])) fe_mul(&acc, &acc, &v[i]);
  }
  fe inv;
  fe_inv(&inv, &acc);
  for (size_t i = n; i-- > 0;) {
    if (fe_is_zero(&v[i])) continue;
    fe vi = v[i];
    fe_mul(&v[i], &inv, &scratch[i]);
    fe_mul(&inv, &inv, &vi);
  }
}

/* Converts finite Jacobian points to affine (one inversion for all). 0, or -1 on infinity. */
static int jac_batch_to_aff(aff *out, const jac *in, size_t n) {
  fe *z = malloc(2 * n * sizeof(fe));
  if (!z) return -1;
  for (size_t i = 0; i < n; i++) {
    if (jac_is_inf(&in[i])) {
      free(z);
      return -1;
    }
    z[i] = in[i].Z;
  }
  fe_batch_inv(z, n, z + n);
  for (size_t i = 0; i < n; i++) {
    fe z2, z3;
    fe_sqr(&z2, &z[i]);
    fe_mul(&z3, &z2, &z[i]);
    fe_mul(&out[i].x, &in[i].X, &z2);
    fe_mul(&out[i].y, &in[i].Y, &z3);
  }
  free(z);
  return 0;
}

/* Table of d·256^i·P for i < windows, d = 1..255, as affine points. */
static aff *build_comb(const aff *P, int windows) {
  size_t n = (size_t)windows * COMB_ENTRIES;
  aff *tab = malloc(n * sizeof(aff));
  jac *tmp = malloc(n * sizeof(jac));
  if (!tab || !tmp) goto fail;
  aff base = *P;
  for (int w = 0; w < windows; w++) {
    jac *row = tmp + (size_t)w * COMB_ENTRIES;
    jac_from_aff(&row[0], &base);
    for (int d = 1; d < COMB_ENTRIES; d++) jac_madd(&row[d], &row[d - 1], &base, NULL);
    jac next;
    jac_dbl(&next, &row[127], NULL); /* 2·128·base */
    if (jac_batch_to_aff(&base, &next, 1) != 0) goto fail;
  }
  if (jac_batch_to_aff(tab, tmp, n) != 0) goto fail;
  free(tmp);
  return tab;
fail:
  free(tab);
  free(tmp);
  return NULL;
}

static inline unsigned byte_at(const u64 k[4], int i) { return (unsigned)(k[i >> 3] >> ((i & 7) * 8)) & 0xff; }

/* acc += k·P from a comb table over `windows` bytes of k */
static inline void comb_add(jac *acc, const aff *tab, int windows, const u64 k[4]) {
  for (int i = 0; i < windows; i++) {
    unsigned d = byte_at(k, i);
    if (d) jac_madd(acc, acc, &tab[(size_t)i * COMB_ENTRIES + d - 1], NULL);
  }
}

static void aff_from_const(aff *r, const uint64_t xy[2][4]) {
  fe_from_u256(&r->x, xy[0]);
  fe_from_u256(&r->y, xy[1]);
}

static void init_once(void) {
  static const u64 one[4] = {1, 0, 0, 0};
  fe_from_u256(&FE_ONE, one);
  fe_add(&FE_TWO, &FE_ONE, &FE_ONE);
  fe_from_u256(&FE_BETA, K_BETA);
  for (int r = 0; r < 91; r++)
    for (int j = 0; j < 3; j++) fe_from_u256(&POS_RC[r][j], K_POSEIDON_RC[r][j]);
  for (int k = 1; k < 7; k++) u256_add(P_TIMES[k], P_TIMES[k - 1], K_P);

  aff pts[5], g;
  for (int i = 0; i < 5; i++) aff_from_const(&pts[i], K_PEDERSEN[i]);
  aff_from_const(&g, K_GEN);
  PED_SHIFT = pts[0];
  PED_A_LO = build_comb(&pts[1], 31);
  PED_A_HI = build_comb(&pts[2], 1);
  PED_B_LO = build_comb(&pts[3], 31);
  PED_B_HI = build_comb(&pts[4], 1);
  GEN_COMB = build_comb(&g, 32);
  INIT_RESULT = (PED_A_LO && PED_A_HI && PED_B_LO && PED_B_HI && GEN_COMB) ? 0 : -1;
}

int stark_init(void) {
  pthread_once(&INIT_ONCE, init_once);
  return INIT_RESULT;
}

void stark_reduce_p(uint64_t a[4]) {
  while (!u256_lt(a, K_P)) u256_sub(a, a, K_P);
}

int stark_is_felt(const uint64_t a[4]) { return u256_lt(a, K_P); }

/* ---- Poseidon -------------------------------------------------------------------------- */

/*
 * Lazy reduction: inside a round the lanes are plain 256-bit integers congruent to the
 * Montgomery residues and below 16p (p < 2^252); reduce16 brings one back below p.
 * 16p < 2^256, so nothing overflows.
 */

/* x < 16p -> x mod p: q = floor(x / 2^251) and x - q·p = (x mod 2^251) - q·(17·2^192 + 1) */
FORCE_INLINE void reduce16(u64 x[4]) {
  u64 q = x[3] >> 59;
  u64 sub[4] = {q, 0, 0, 17 * q}, m[4];
  x[3] &= (1ULL << 59) - 1;
  u64 mask = -u256_sub(x, x, sub); /* negative: add p back once */
  for (int i = 0; i < 4; i++) m[i] = K_P[i] & mask;
  u256_add(x, x, m);
}

/* x^3 for x < p; the result is below 2p (mds_then_rc accepts that) */
FORCE_INLINE void cube(fe *x) {
  fe t;
  fe_sqr_lazy(&t, x);
  fe_mul_lazy(x, &t, x);
}

/*
 * MDS [[3,1,1],[1,-1,1],[1,1,-2]] as t = s0+s1+s2: (t + 2s0, t - 2s1, t - 3s2), lazily, then
 * the next round's constants, then one reduction per lane. Inputs below 2p (cubes) or p;
 * subtractions are offset by 4p and 6p, so every lane stays below 13p.
 */
FORCE_INLINE void mds_then_rc(fe s[3], const fe rc[3]) {
  u64 t[4], u[4], o0[4], o1[4], o2[4];
  u256_add(t, s[0].v, s[1].v);
  u256_add(t, t, s[2].v); /* < 6p */
  u256_add(u, s[0].v, s[0].v);
  u256_add(o0, t, u); /* < 10p */
  u256_add(u, s[1].v, s[1].v);
  u256_add(o1, t, P_TIMES[4]);
  u256_sub(o1, o1, u); /* < 10p */
  u256_add(u, s[2].v, s[2].v);
  u256_add(u, u, s[2].v);
  u256_add(o2, t, P_TIMES[6]);
  u256_sub(o2, o2, u); /* < 12p */
  u256_add(o0, o0, rc[0].v);
  u256_add(o1, o1, rc[1].v);
  u256_add(o2, o2, rc[2].v); /* < 13p */
  reduce16(o0);
  reduce16(o1);
  reduce16(o2);
  memcpy(s[0].v, o0, 32);
  memcpy(s[1].v, o1, 32);
  memcpy(s[2].v, o2, 32);
}

/* s holds the state with round 0's constants already added */
static void poseidon_rounds(fe s[3]) {
  int r = 0;
  for (; r < 4; r++) {
    cube(&s[0]);
    cube(&s[1]);
    cube(&s[2]);
    mds_then_rc(s, POS_RC[r + 1]);
  }
  for (; r < 87; r++) {
    cube(&s[2]); /* the reference applies the partial S-box to the last lane */
    mds_then_rc(s, POS_RC[r + 1]);
  }
  for (; r < 91; r++) {
    cube(&s[0]);
    cube(&s[1]);
    cube(&s[2]);
    mds_then_rc(s, POS_RC[r + 1]); /* row 91 is zero */
  }
}

static void poseidon_permute(fe s[3]) {
  for (int j = 0; j < 3; j++) fe_add(&s[j], &s[j], &POS_RC[0][j]);
  poseidon_rounds(s);
}

void stark_poseidon_hash(uint64_t out[4], const uint64_t a[4], const uint64_t b[4]) {
  fe s[3];
  fe_from_u256(&s[0], a);
  fe_from_u256(&s[1], b);
  s[2] = FE_TWO;
  poseidon_permute(s);
  fe_to_u256(out, &s[0]);
}

void stark_poseidon_many(uint64_t out[4], const uint64_t *xs, size_t n) {
  fe s[3];
  memset(s, 0, sizeof s);
  size_t i = 0;
  for (; i + 2 <= n; i += 2) {
    fe a, b;
    fe_from_u256(&a, xs + 4 * i);
    fe_from_u256(&b, xs + 4 * (i + 1));
    fe_add(&s[0], &s[0], &a);
    fe_add(&s[1], &s[1], &b);
    poseidon_permute(s);
  }
  /* padding: append 1, then 0 up to the rate */
  if (i < n) {
    fe a;
    fe_from_u256(&a, xs + 4 * i);
    fe_add(&s[0], &s[0], &a);
    fe_add(&s[1], &s[1], &FE_ONE);
  } else {
    fe_add(&s[0], &s[0], &FE_ONE);
  }
  poseidon_permute(s);
  fe_to_u256(out, &s[0]);
}

/* ---- Pedersen -------------------------------------------------------------------------- */

/* shift + a_low·A_LO + a_high·A_HI + b_low·B_LO + b_high·B_HI, before normalisation */
static void pedersen_point(jac *acc, const u64 a[4], const u64 b[4]) {
  jac_from_aff(acc, &PED_SHIFT);
  comb_add(acc, PED_A_LO, 31, a);
  unsigned ah = (unsigned)(a[3] >> 56) & 0xf;
  if (ah) jac_madd(acc, acc, &PED_A_HI[ah - 1], NULL);
  comb_add(acc, PED_B_LO, 31, b);
  unsigned bh = (unsigned)(b[3] >> 56) & 0xf;
  if (bh) jac_madd(acc, acc, &PED_B_HI[bh - 1], NULL);
}

#define PED_STACK 32

int stark_pedersen_batch(uint64_t (*out)[4], const uint64_t (*a)[4], const uint64_t (*b)[4], size_t count) {
  jac stack_pts[PED_STACK];
  fe stack_z[2 * PED_STACK];
  jac *pts = stack_pts;
  fe *z = stack_z;
  int rc = 0;
  if (count > PED_STACK) {
    pts = malloc(count * sizeof(jac));
    z = malloc(2 * count * sizeof(fe));
    if (!pts || !z) {
      rc = -2;
      goto done;
    }
  }
  for (size_t i = 0; i < count; i++) {
    pedersen_point(&pts[i], a[i], b[i]);
    if (jac_is_inf(&pts[i])) rc = -1;
    z[i] = pts[i].Z;
  }
  if (rc) goto done;
  fe_batch_inv(z, count, z + count);
  for (size_t i = 0; i < count; i++) {
    fe z2, x;
    fe_sqr(&z2, &z[i]);
    fe_mul(&x, &pts[i].X, &z2);
    fe_to_u256(out[i], &x);
  }
done:
  if (pts != stack_pts) free(pts);
  if (z != stack_z) free(z);
  return rc;
}

/* ---- ECDSA ----------------------------------------------------------------------------- */

/* Width-5 NAF of k < 2^255: digits in {0, ±1, ±3, ..., ±15}; returns the digit count. */
static int wnaf5(int8_t naf[260], const u64 k[4]) {
  u64 t[4] = {k[0], k[1], k[2], k[3]};
  int len = 0;
  while (!u256_is_zero(t)) {
    int d = 0;
    if (t[0] & 1) {
      d = (int)(t[0] & 31);
      if (d >= 16) d -= 32;
      u64 dd[4] = {(u64)(d < 0 ? -d : d), 0, 0, 0};
      if (d < 0) u256_add(t, t, dd);
      else u256_sub(t, t, dd);
    }
    naf[len++] = (int8_t)d;
    t[0] = (t[0] >> 1) | (t[1] << 63);
    t[1] = (t[1] >> 1) | (t[2] << 63);
    t[2] = (t[2] >> 1) | (t[3] << 63);
    t[3] >>= 1;
  }
  return len;
}

/* r = k·q on y^2 = x^3 + a·x + b (any a), q finite */
static void wnaf_mul(jac *r, const jac *q, const u64 k[4], const fe *a) {
  jac odd[8], q2;
  odd[0] = *q;
  jac_dbl(&q2, q, a);
  for (int i = 1; i < 8; i++) jac_add(&odd[i], &odd[i - 1], &q2, a);
  int8_t naf[260];
  int len = wnaf5(naf, k);
  jac acc;
  jac_set_inf(&acc);
  for (int i = len - 1; i >= 0; i--) {
    jac_dbl(&acc, &acc, a);
    int d = naf[i];
    if (d > 0) {
      jac_add(&acc, &acc, &odd[(d - 1) >> 1], a);
    } else if (d < 0) {
      jac neg = odd[(-d - 1) >> 1];
      fe_neg(&neg.Y, &neg.Y);
      jac_add(&acc, &acc, &neg, a);
    }
  }
  *r = acc;
}

/* R.x mod n == r, with R.x given in Montgomery form */
static int x_matches(const fe *xm, const u64 r[4]) {
  u64 x[4], t[4];
  fe_to_u256(x, xm);
  if (u256_eq(x, r)) return 1;
  return !u256_sub(t, x, K_N) && u256_eq(t, r);
}

/*
 * The key is x-only: Q = (x, ±y0) with y0^2 = c = x^3 + x + beta. Instead of a square root
 * (p - 1 has 2-adicity 192, so Tonelli-Shanks is slow) we work on the isomorphic curve
 *   E'': v^2 = u^3 + c^2·u + c^3·beta,   (x, y) -> (c·x, c·y0·y)  [scaling by mu = y0]
 * where Q maps to (c·x, c^2), known without y0. B'' = u2·Q'' maps back to
 *   B = (ub/c, t·y0) with t = vb/c^2, and -Q gives (ub/c, -t·y0).
 * With A = u1·G = (xa, ya) and d = xb - xa, the two candidates R = A ± B have
 *   x = alpha -/+ beta·y0,  alpha = (t^2·c + ya^2)/d^2 - xa - xb,  beta = 2·t·ya/d^2,
 * so X is the x of one of them iff (X - alpha)^2 = beta^2·c; times d^4 (no inversion):
 *   (X·D + (xa + xb)·D - t^2·c - ya^2)^2 = (2·t·ya)^2·c,   D = d^2.
 * The reference accepts when R.x mod n = r, i.e. R.x in {r, r + n}.
 */
int stark_verify(const uint64_t msg[4], const uint64_t key[4], const uint64_t r[4], const uint64_t s[4]) {
  /*
   * range checks as the reference: msg, r < 2^251; 1 <= r; 1 <= s < n; the key only needs to be
   * a field element (stark keys are below 2^251 by convention; the public API checks that)
   */
  if (!u256_lt(msg, TWO_POW_251) || !u256_lt(key, K_P) || !u256_lt(r, TWO_POW_251)) return 0;
  if (u256_is_zero(r) || u256_is_zero(s) || !u256_lt(s, K_N)) return 0;

  /* w = s^-1 mod n must be below 2^251 (StarkWare's extra rule) */
  fn sm, wm;
  u64 w[4], u1[4], u2[4];
  fn_from_u256(&sm, s);
  fn_inv(&wm, &sm);
  fn_to_u256(w, &wm);
  if (!u256_lt(w, TWO_POW_251)) return 0;
  fn_mul_plain(u1, msg, &wm); /* msg < 2^251 < n, so msg is its own residue */
  fn_mul_plain(u2, r, &wm);

  /* the key must be the x of a curve point: c = x^3 + x + beta a non-zero square */
  fe x, c, t;
  fe_from_u256(&x, key);
  fe_sqr(&t, &x);
  fe_mul(&t, &t, &x);
  fe_add(&t, &t, &x);
  fe_add(&c, &t, &FE_BETA);
  if (fe_legendre(&c, &FE_ONE) != 1) return 0;

  jac A;
  jac_set_inf(&A);
  comb_add(&A, GEN_COMB, 32, u1);

  fe a2; /* c^2, the a-coefficient of E'' and also v of Q'' */
  fe_sqr(&a2, &c);
  jac Q, B;
  fe_mul(&Q.X, &c, &x);
  Q.Y = a2;
  Q.Z = FE_ONE;
  wnaf_mul(&B, &Q, u2, &a2);
  if (jac_is_inf(&B)) return 0; /* unreachable: u2 != 0 and Q has prime order n */

  if (jac_is_inf(&A)) {
    /* u1 = 0: R = ±B, x = ub/c for both */
    fe den, xb;
    fe_sqr(&den, &B.Z);
    fe_mul(&den, &den, &c);
    fe_inv(&den, &den);
    fe_mul(&xb, &B.X, &den);
    return x_matches(&xb, r);
  }

  /* one inversion for 1/Za, 1/Zb, 1/c */
  fe zab, prod, ip, iza, izb, ic;
  fe_mul(&zab, &A.Z, &B.Z);
  fe_mul(&prod, &zab, &c);
  fe_inv(&ip, &prod);
  fe_mul(&ic, &ip, &zab);
  fe_mul(&t, &ip, &c);
  fe_mul(&iza, &t, &B.Z);
  fe_mul(&izb, &t, &A.Z);

  fe iza2, izb2, xa, ya, xb, tb;
  fe_sqr(&iza2, &iza);
  fe_mul(&xa, &A.X, &iza2);
  fe_mul(&ya, &A.Y, &iza2);
  fe_mul(&ya, &ya, &iza);
  fe_sqr(&izb2, &izb);
  fe_mul(&t, &izb2, &ic); /* 1/(Zb^2·c) */
  fe_mul(&xb, &B.X, &t);
  fe_mul(&t, &t, &izb);
  fe_mul(&t, &t, &ic); /* 1/(Zb^3·c^2) */
  fe_mul(&tb, &B.Y, &t);

  fe d;
  fe_sub(&d, &xb, &xa);
  if (fe_is_zero(&d)) {
    /* B = ±A: the candidates are 2A and infinity */
    jac A1, A2;
    A1.X = xa;
    A1.Y = ya;
    A1.Z = FE_ONE;
    jac_dbl(&A2, &A1, NULL);
    if (jac_is_inf(&A2)) return 0;
    fe iz, x2;
    fe_inv(&iz, &A2.Z);
    fe_sqr(&iz, &iz);
    fe_mul(&x2, &A2.X, &iz);
    return x_matches(&x2, r);
  }

  fe D, L, u, rhs;
  fe_sqr(&D, &d);
  fe_add(&L, &xa, &xb);
  fe_mul(&L, &L, &D);
  fe_sqr(&u, &tb);
  fe_mul(&u, &u, &c);
  fe_sub(&L, &L, &u);
  fe_sqr(&u, &ya);
  fe_sub(&L, &L, &u);
  fe_mul(&rhs, &tb, &ya);
  fe_dbl(&rhs, &rhs);
  fe_sqr(&rhs, &rhs);
  fe_mul(&rhs, &rhs, &c);

  for (int k = 0; k < 2; k++) {
    u64 X[4];
    if (k == 0) {
      memcpy(X, r, 32);
    } else {
      u256_add(X, r, K_N);
      if (!u256_lt(X, K_P)) break;
    }
    fe Xm, lhs;
    fe_from_u256(&Xm, X);
    fe_mul(&lhs, &Xm, &D);
    fe_add(&lhs, &lhs, &L);
    fe_sqr(&lhs, &lhs);
    if (fe_eq(&lhs, &rhs)) return 1;
  }
  return 0;
}
